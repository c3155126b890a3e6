use super::*;
use proptest::prelude::*;

fn message(n: u32, payload_len: usize) -> Outgoing {
    Outgoing {
        topic: format!("aisle/store-1/events/{}", n % 3),
        payload: n
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(payload_len.max(4))
            .collect(),
        qos: QoS::AtLeastOnce,
        retain: n.is_multiple_of(2),
    }
}

fn contents(spool: &Spool) -> Vec<(SeqNo, Outgoing)> {
    spool.iter_from(SeqNo(0)).collect::<Result<_, _>>().unwrap()
}

#[test]
fn push_read_ack_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert!(spool.is_empty());
    let a = spool.push(&message(1, 10)).unwrap();
    let b = spool.push(&message(2, 10)).unwrap();
    let c = spool.push(&message(3, 10)).unwrap();
    assert!(a < b && b < c);
    assert_eq!(spool.get(b).unwrap(), Some(message(2, 10)));
    spool.ack_through(a).unwrap();
    assert_eq!(spool.get(a).unwrap(), None);
    assert_eq!(spool.len(), 2);
    drop(spool);

    let spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(
        contents(&spool),
        vec![(b, message(2, 10)), (c, message(3, 10))]
    );
    assert_eq!(spool.first_unacked(), Some(b));
    let after_b: Vec<_> = spool.iter_after(b).map(Result::unwrap).collect();
    assert_eq!(after_b, vec![(c, message(3, 10))]);
}

#[test]
fn full_spool_refuses_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let size = encode_record(&message(0, 100)).unwrap().len() as u64;
    let mut spool = Spool::open(dir.path(), size * 3).unwrap();
    let first = spool.push(&message(0, 100)).unwrap();
    spool.push(&message(1, 100)).unwrap();
    spool.push(&message(2, 100)).unwrap();
    assert!(matches!(
        spool.push(&message(3, 100)),
        Err(SpoolError::Full { .. })
    ));
    spool.ack_through(first).unwrap();
    // Needs a compaction to make room; the sequence keeps growing.
    let fourth = spool.push(&message(3, 100)).unwrap();
    assert_eq!(fourth, SeqNo(size * 3));
    drop(spool);
    let spool = Spool::open(dir.path(), size * 3).unwrap();
    let seqs: Vec<_> = contents(&spool).into_iter().map(|(seq, _)| seq.0).collect();
    assert_eq!(seqs, vec![size, size * 2, size * 3]);
    assert!(matches!(
        Spool::open(dir.path(), 10).unwrap().push(&message(9, 100)),
        Err(SpoolError::TooLarge { .. })
    ));
}

#[test]
fn idle_log_is_replaced_once_large() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 4 << 20).unwrap();
    let mut last = SeqNo(0);
    for n in 0..300 {
        last = spool.push(&message(n, 4000)).unwrap();
    }
    spool.ack_through(last).unwrap();
    let len = fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
    assert_eq!(len, HEADER_LEN);
    let next = spool.push(&message(1, 10)).unwrap();
    assert!(next > last);
    drop(spool);
    let spool = Spool::open(dir.path(), 4 << 20).unwrap();
    assert_eq!(contents(&spool), vec![(next, message(1, 10))]);
}

#[derive(Debug, Clone)]
enum Op {
    Push {
        payload: usize,
    },
    /// Acknowledge through the n-th (modulo) unacknowledged message.
    Ack {
        nth: usize,
    },
    Reopen,
    /// A crash while appending: the record is cut `keep` bytes in (modulo its length).
    TornPush {
        payload: usize,
        keep: usize,
    },
    /// A crash leaving garbage where the next record would start.
    Garbage {
        bytes: Vec<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..200).prop_map(|payload| Op::Push { payload }),
        2 => (0usize..8).prop_map(|nth| Op::Ack { nth }),
        1 => Just(Op::Reopen),
        1 => (0usize..200, any::<usize>()).prop_map(|(payload, keep)| Op::TornPush { payload, keep }),
        1 => proptest::collection::vec(any::<u8>(), 1..40).prop_map(|bytes| Op::Garbage { bytes }),
    ]
}

const MAX_BYTES: u64 = 1500;

fn log_len(dir: &Path) -> u64 {
    fs::metadata(dir.join(LOG_FILE)).unwrap().len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the crashes, the spool holds exactly the accepted and
    /// unacknowledged messages, in the order they were accepted.
    #[test]
    fn crashes_never_lose_or_reorder(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), MAX_BYTES).unwrap();
        let mut model: VecDeque<(SeqNo, Outgoing)> = VecDeque::new();
        let mut counter = 0u32;
        for op in ops {
            counter += 1;
            match op {
                Op::Push { payload } => {
                    let m = message(counter, payload);
                    let size = encode_record(&m).unwrap().len() as u64;
                    let unacked: u64 = spool.unacked_bytes();
                    match spool.push(&m) {
                        Ok(seq) => {
                            if let Some((last, _)) = model.back() { prop_assert!(seq > *last); }
                            model.push_back((seq, m));
                        }
                        Err(SpoolError::Full { .. }) => prop_assert!(unacked + size > MAX_BYTES),
                        Err(error) => panic!("{error}"),
                    }
                }
                Op::Ack { nth } => {
                    if !model.is_empty() {
                        let through = model[nth % model.len()].0;
                        spool.ack_through(through).unwrap();
                        model.retain(|(seq, _)| *seq > through);
                    }
                }
                Op::Reopen => {
                    drop(spool);
                    spool = Spool::open(dir.path(), MAX_BYTES).unwrap();
                }
                Op::TornPush { payload, keep } => {
                    let torn = message(counter, payload);
                    let size = encode_record(&torn).unwrap().len() as u64;
                    if spool.push(&torn).is_ok() {
                        // The append may have compacted first, so measure from the end.
                        let start = log_len(dir.path()) - size;
                        drop(spool);
                        let cut = start + (keep as u64) % size;
                        File::options().write(true).open(dir.path().join(LOG_FILE)).unwrap().set_len(cut).unwrap();
                        spool = Spool::open(dir.path(), MAX_BYTES).unwrap();
                    }
                }
                Op::Garbage { bytes } => {
                    drop(spool);
                    let mut log = File::options().append(true).open(dir.path().join(LOG_FILE)).unwrap();
                    log.write_all(&bytes).unwrap();
                    drop(log);
                    spool = Spool::open(dir.path(), MAX_BYTES).unwrap();
                }
            }
            let actual = contents(&spool);
            prop_assert_eq!(actual, model.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(spool.len(), model.len());
        }
    }
}
