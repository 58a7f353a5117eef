//! One rule for duplicates, for every resource family of every backend. Everything the bridge
//! makes is found by its name; replicas that race, or a create resent after a lost answer, can
//! leave two of one name. Then **the oldest wins: the earliest creation time where the cloud gives
//! one, and among equals (or where it gives none) the lowest id**. Every replica reaches the same
//! verdict from the same listing, so they never fight over which copy to keep.
//!
//! [`delete_until_gone`] is the one way to remove what carries a name: delete what is there, look
//! again, until nothing is left or the deadline comes.

use std::cmp::Ordering;
use std::future::Future;
use std::time::{Duration, Instant};

/// A resource as the rule sees it.
pub trait Named {
    fn id(&self) -> &str;
    /// RFC 3339, as the cloud wrote it; empty where it gives none.
    fn created_at(&self) -> &str {
        ""
    }
}

fn older<T: Named>(a: &T, b: &T) -> Ordering {
    a.created_at()
        .cmp(b.created_at())
        .then_with(|| a.id().cmp(b.id()))
}

/// Puts the copy that wins first, the others after it in the same order.
pub fn oldest_first<T: Named>(copies: &mut [T]) {
    copies.sort_by(older);
}

/// The copy that wins among `copies`.
pub fn winner<'a, T: Named>(copies: impl IntoIterator<Item = &'a T>) -> Option<&'a T> {
    copies.into_iter().min_by(|a, b| older(*a, *b))
}

/// The copy that wins, and the duplicates to remove.
pub fn keep_one<T: Named>(mut copies: Vec<T>) -> Option<(T, Vec<T>)> {
    oldest_first(&mut copies);
    let mut copies = copies.into_iter();
    let kept = copies.next()?;
    Some((kept, copies.collect()))
}

/// Waits before the next look, growing from a quarter second to two, never past the deadline;
/// `false` when the deadline would pass first.
pub async fn pause(round: u32, deadline: Instant) -> bool {
    let wait = Duration::from_millis(250)
        .saturating_mul(2u32.saturating_pow(round.min(8)))
        .min(Duration::from_secs(2));
    if Instant::now() + wait >= deadline {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

/// Lists what carries a name and deletes each (`delete` decides what it can delete now and waits
/// for it, or leaves it for the next look), until the list is empty: `Ok(true)`; or until the
/// deadline: `Ok(false)`, and a retry continues from what is left.
pub async fn delete_until_gone<T, L, LF, D, DF, E>(
    mut list: L,
    mut delete: D,
    deadline: Instant,
) -> Result<bool, E>
where
    L: FnMut() -> LF,
    LF: Future<Output = Result<Vec<T>, E>>,
    D: FnMut(T) -> DF,
    DF: Future<Output = Result<(), E>>,
{
    let mut round = 0;
    loop {
        let found = list().await?;
        if found.is_empty() {
            return Ok(true);
        }
        for copy in found {
            delete(copy).await?;
        }
        if !pause(round, deadline).await {
            return Ok(false);
        }
        round += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Clone, PartialEq)]
    struct R(&'static str, &'static str);

    impl Named for R {
        fn id(&self) -> &str {
            self.0
        }
        fn created_at(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn the_oldest_wins_and_the_lowest_id_breaks_ties_and_missing_times() {
        let copies = vec![
            R("c", "2026-12-01T10:00:01Z"),
            R("b", "2026-12-01T10:00:00Z"),
            R("a", "2026-12-01T10:00:01Z"),
        ];
        let (kept, rest) = keep_one(copies.clone()).unwrap();
        assert_eq!(kept.0, "b");
        assert_eq!(
            rest,
            vec![
                R("a", "2026-12-01T10:00:01Z"),
                R("c", "2026-12-01T10:00:01Z")
            ]
        );
        let untimed = [R("9", ""), R("3", ""), R("5", "")];
        assert_eq!(winner(&untimed).unwrap().0, "3");
        assert!(keep_one(Vec::<R>::new()).is_none());
    }

    #[tokio::test]
    async fn delete_until_gone_looks_again_until_nothing_is_left() {
        let left = Mutex::new(vec![R("a", ""), R("b", "")]);
        let deleted = Mutex::new(Vec::new());
        let gone = delete_until_gone(
            || async { Ok::<_, ()>(left.lock().unwrap().clone()) },
            |r: R| {
                // Only one deletion lands per look, as when the cloud is busy.
                let mut l = left.lock().unwrap();
                if deleted.lock().unwrap().len() < 2 && l.first() == Some(&r) {
                    l.remove(0);
                    deleted.lock().unwrap().push(r.0);
                }
                async { Ok(()) }
            },
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(gone);
        assert_eq!(*deleted.lock().unwrap(), vec!["a", "b"]);
    }

    #[tokio::test]
    async fn delete_until_gone_stops_at_the_deadline_with_what_is_left() {
        let gone = delete_until_gone(
            || async { Ok::<_, ()>(vec![R("stuck", "")]) },
            |_| async { Ok(()) },
            Instant::now() + Duration::from_millis(300),
        )
        .await
        .unwrap();
        assert!(!gone);
    }
}
