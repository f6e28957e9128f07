# stream: per-meter state and the incremental algorithms (built from the stream processor issue on).
$(eval $(call module_library,stream,$(wildcard stream/*.c)))
