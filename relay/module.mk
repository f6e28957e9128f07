# relay: everything that speaks InfluxDB, and meter-relay itself.
$(eval $(call module_library,relay,$(filter-out relay/main.c,$(wildcard relay/*.c))))

BINARIES += $(BUILD)/bin/meter-relay
OBJECTS += $(BUILD)/relay/main.o
# main.c attaches the stream processor (stream/ is read after this file, hence its path here).
$(BUILD)/bin/meter-relay: $(BUILD)/relay/main.o $(BUILD)/lib/libstream.a $(relay_LIBRARY) \
		$(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@
