# Benchmarks print figures; `make bench` runs them on a release build. bench/<name>.c -> bench-<name>
# with '_' as '-'.
bench_SOURCES := $(wildcard bench/*.c)
BENCHMARKS := $(foreach s,$(bench_SOURCES),$(BUILD)/bin/bench-$(subst _,-,$(basename $(notdir $(s)))))
OBJECTS += $(patsubst %.c,$(BUILD)/%.o,$(bench_SOURCES))
$(BUILD)/bin/bench-%: $(BUILD)/bench/%.o $(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@

# Helper programs the benchmark scripts start (servers, not benchmarks): bench/tools/<name>.c ->
# <name> with '_' as '-'. `make bench` does not run them.
bench_TOOL_SOURCES := $(wildcard bench/tools/*.c)
BENCH_TOOLS += $(foreach s,$(bench_TOOL_SOURCES),$(BUILD)/bin/$(subst _,-,$(basename $(notdir $(s)))))
OBJECTS += $(patsubst %.c,$(BUILD)/%.o,$(bench_TOOL_SOURCES))
$(BUILD)/bin/null-sink: $(BUILD)/bench/tools/null_sink.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@

# bench-anomaly: the labelled detection benchmark, its generator and scoring in bench/anomaly/; it
# runs the stream's meter rules and the batch's vote, so it links those modules too.
bench_anomaly_SOURCES := $(wildcard bench/anomaly/*.c)
OBJECTS += $(patsubst %.c,$(BUILD)/%.o,$(bench_anomaly_SOURCES))
$(BUILD)/bin/bench-anomaly: $(BUILD)/bench/anomaly.o \
		$(patsubst %.c,$(BUILD)/%.o,$(bench_anomaly_SOURCES)) $(batch_LIBRARY) \
		$(stream_LIBRARY) $(relay_LIBRARY) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@

# bench-batch-accuracy: meter-batch reconcile against known truth, default mode vs --compat reference;
# its generator, checks and scoring in bench/batch_accuracy/. Built with `all` as well (and before
# the integration tests): tests/integration/test_batch_accuracy.sh generates, verifies and scores a
# scenario with it, and `make test` runs those tests on the sanitizer build, which builds `all` but
# not `benchmarks`. It is not installed (not in BINARIES).
bench_batch_accuracy_SOURCES := $(wildcard bench/batch_accuracy/*.c)
OBJECTS += $(patsubst %.c,$(BUILD)/%.o,$(bench_batch_accuracy_SOURCES))
$(BUILD)/bin/bench-batch-accuracy: $(BUILD)/bench/batch_accuracy.o \
		$(patsubst %.c,$(BUILD)/%.o,$(bench_batch_accuracy_SOURCES)) $(config_LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PACKAGE_LIBS) $(ALLOCATOR_LIBS) -o $@
all check-integration: $(BUILD)/bin/bench-batch-accuracy
