# relay: everything that speaks InfluxDB, and meter-relay itself.
$(eval $(call module_library,relay,$(filter-out relay/main.c,$(wildcard relay/*.c))))

BINARIES += $(BUILD)/bin/meter-relay
OBJECTS += $(BUILD)/relay/main.o
$(BUILD)/bin/meter-relay: $(BUILD)/relay/main.o $(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@
