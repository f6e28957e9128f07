# batch: full-history algorithms, the Tibber client, and meter-batch itself.
$(eval $(call module_library,batch,$(filter-out batch/main.c,$(wildcard batch/*.c))))

BINARIES += $(BUILD)/bin/meter-batch
OBJECTS += $(BUILD)/batch/main.o
$(BUILD)/bin/meter-batch: $(BUILD)/batch/main.o $(batch_LIBRARY) $(stream_LIBRARY) \
		$(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@
