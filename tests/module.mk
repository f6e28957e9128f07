# Unit tests: one Criterion binary per module, built from tests/unit/<module>/*.c.
# $(call unit_test,MODULE,LIBRARIES)
define unit_test
ifneq ($$(wildcard tests/unit/$(1)/*.c),)
UNIT_TESTS += $$(BUILD)/tests/unit-$(1)
unit_$(1)_OBJECTS := $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard tests/unit/$(1)/*.c))
OBJECTS += $$(unit_$(1)_OBJECTS)
$$(BUILD)/tests/unit-$(1): $$(unit_$(1)_OBJECTS) $(2)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) $$^ $$(CRITERION_LIBS) $$(PACKAGE_LIBS) -o $$@
endif
endef
$(eval $(call unit_test,config,$(config_LIBRARY)))
$(eval $(call unit_test,relay,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call unit_test,stream,$(stream_LIBRARY) $(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call unit_test,batch,$(batch_LIBRARY) $(stream_LIBRARY) $(relay_LIBRARY) $(config_LIBRARY)))

# Fuzz targets: tests/fuzz/fuzz_<name>.c with its corpus in tests/fuzz/corpus/<name>/.
# $(call fuzz_target,NAME,LIBRARIES)
define fuzz_target
ifneq ($$(wildcard tests/fuzz/fuzz_$(1).c),)
FUZZ_TARGETS += $$(BUILD)/tests/fuzz_$(1)
OBJECTS += $$(BUILD)/tests/fuzz/fuzz_$(1).o
$$(BUILD)/tests/fuzz_$(1): $$(BUILD)/tests/fuzz/fuzz_$(1).o $(2)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -fsanitize=fuzzer $$^ $$(PACKAGE_LIBS) -o $$@
endif
endef
$(eval $(call fuzz_target,lineproto,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,config,$(config_LIBRARY)))
$(eval $(call fuzz_target,http_connection,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,spool_segment,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,flux_csv,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,influxql_chunks,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,gzip_inflate,$(relay_LIBRARY) $(config_LIBRARY)))
$(eval $(call fuzz_target,cron,$(config_LIBRARY)))
$(eval $(call fuzz_target,tibber_response,$(batch_LIBRARY) $(stream_LIBRARY) $(relay_LIBRARY) $(config_LIBRARY)))

# Test programs the integration tests run next to the binaries (in $(BUILD)/bin, not installed),
# built with the unit tests and before check-integration. influx-client-driver: the InfluxDB
# client and the history reader as a command, for test_influx_client.sh.
TEST_PROGRAMS := $(BUILD)/bin/influx-client-driver
OBJECTS += $(BUILD)/tests/integration/influx_client_driver.o
unit-tests check-integration: $(TEST_PROGRAMS)
$(BUILD)/bin/influx-client-driver: $(BUILD)/tests/integration/influx_client_driver.o \
		$(batch_LIBRARY) $(stream_LIBRARY) $(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) -o $@
