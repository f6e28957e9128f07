# config: YAML configuration, secrets, logging, clock, cron, time zones.
$(eval $(call module_library,config,$(wildcard config/*.c)))
