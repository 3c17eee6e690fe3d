use super::*;

#[test]
fn parses_stat_fields_after_a_command_name_with_spaces_and_parens() {
    let stat = "4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                731 259 0 0 20 0 3 0 123 456789 123 18446744073709551615";
    assert_eq!(
        parse_stat(stat),
        Some(StatFields {
            ppid: 17,
            utime: 731,
            stime: 259
        })
    );
    assert_eq!(parse_stat("4242 (truncated) S 1"), None);
    assert_eq!(parse_stat("no parens at all"), None);
}

#[test]
fn parses_vm_rss_in_kib() {
    let status = "Name:\tsquid\nVmPeak:\t  99999 kB\nVmRSS:\t   30912 kB\nThreads:\t1\n";
    assert_eq!(parse_vm_rss_kib(status), Some(30912));
    assert_eq!(parse_vm_rss_kib("Name:\tkthread\n"), None);
}

#[test]
fn reads_this_process_from_proc() {
    let me = std::process::id();
    let tree = process_tree(me);
    assert_eq!(tree.first(), Some(&me));
    assert!(cpu_ticks(me, &tree).is_some());
    assert!(rss_kib(&tree) > 0);
}

#[test]
fn a_missing_process_has_no_cpu() {
    // pid_max is at most 2^22 on Linux.
    assert_eq!(cpu_ticks(u32::MAX, &[u32::MAX]), None);
}
