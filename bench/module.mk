# Benchmarks print figures; `make bench` runs them on a release build. bench/<name>.c -> bench-<name>.
bench_SOURCES := $(wildcard bench/*.c)
BENCHMARKS := $(patsubst bench/%.c,$(BUILD)/bin/bench-%,$(bench_SOURCES))
OBJECTS += $(patsubst %.c,$(BUILD)/%.o,$(bench_SOURCES))
$(BUILD)/bin/bench-%: $(BUILD)/bench/%.o $(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@
