# Telegraf-like batch for the relay benchmarks: cpu, mem and disk lines in turn with 3-5 tags
# and integer, float and boolean fields, about 230 bytes a line, nanosecond timestamps 10 s apart.
#   awk -v lines=5000 [-v batch=N] -f bench/relay_ingest/telegraf_batch.awk >batch.lp
# Batch N (default 0) has the same series with timestamps 100 000 s later than batch N - 1.
BEGIN {
    base = 1764184000 + 100000 * batch
    for (i = 0; i < lines; i++) {
        host = sprintf("meter-gateway-%02d", i % 17)
        stamp = sprintf("%d%09d", base + 10 * int(i / 3), i % 1000)
        if (i % 3 == 0)
            printf "cpu,host=%s,cpu=cpu%d,region=eu-central,datacenter=fra1,env=production,rack=r12 usage_user=%.4f,usage_system=%.4f,usage_idle=%.4f,usage_iowait=%.4f,usage_irq=0,usage_steal=0 %s\n", host, i % 8, (i * 7 % 1000) / 10.0, (i * 3 % 500) / 10.0, 100 - (i % 97), (i % 13) / 100.0, stamp
        else if (i % 3 == 1)
            printf "mem,host=%s,region=eu-central,datacenter=fra1,env=production,rack=r12 total=16777216000i,available=%di,used=%di,used_percent=%.6f,free=%di,cached=%di,swap_free=0i %s\n", host, 8000000000 + i * 12345, 8777216000 - i * 12345, 52.3 + (i % 100) / 100.0, 1000000000 + i * 777, 2000000000 + i, stamp
        else
            printf "disk,host=%s,device=nvme0n1p%d,fstype=ext4,mode=rw,path=/srv/data%d total=1000204886016i,free=%di,used=%di,used_percent=%.5f,inodes_free=%di,readonly=false %s\n", host, i % 4, i % 4, 500000000000 + i * 4096, 500204886016 - i * 4096, 50.01 + (i % 50) / 10.0, 60000000 - i, stamp
    }
}
