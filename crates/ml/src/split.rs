//! Train/test splits: stratified, by time, and stratified k-fold. All
//! deterministic for a seed.

use chrono::NaiveDate;

use crate::rng::Rng;

/// Indices of each class, shuffled with `seed`.
fn by_class(labels: &[usize], seed: u64) -> Vec<Vec<usize>> {
    let n_classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut classes = vec![Vec::new(); n_classes];
    for (i, &y) in labels.iter().enumerate() {
        classes[y].push(i);
    }
    let mut rng = Rng::new(seed);
    for c in &mut classes {
        rng.shuffle(c);
    }
    classes
}

/// A stratified split of `idx` (positions into `labels`): `(train, test)` with
/// about `test_fraction` of every class in `test`. Both sorted.
pub fn stratified(idx: &[usize], labels: &[usize], test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let sub: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in by_class(&sub, seed) {
        let n_test = (class.len() as f64 * test_fraction).round() as usize;
        for (k, &i) in class.iter().enumerate() {
            if k < n_test { test.push(idx[i]) } else { train.push(idx[i]) }
        }
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// `k` stratified folds of all rows: the test indices of each fold, sorted.
pub fn folds(labels: &[usize], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); k];
    let mut next = 0;
    for class in by_class(labels, seed) {
        for i in class {
            out[next % k].push(i);
            next += 1;
        }
    }
    for f in &mut out {
        f.sort_unstable();
    }
    out
}

/// Rows dated up to `until` (train) and after it (test); undated rows are in neither.
pub fn by_time(dates: &[Option<NaiveDate>], until: NaiveDate) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, d) in dates.iter().enumerate() {
        match d {
            Some(d) if *d <= until => train.push(i),
            Some(_) => test.push(i),
            None => {}
        }
    }
    (train, test)
}

/// Every row not in `test` (sorted input), for k-fold training sets.
pub fn complement(n: usize, test: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(n - test.len().min(n));
    let mut t = test.iter().peekable();
    for i in 0..n {
        if t.peek() == Some(&&i) {
            t.next();
        } else {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_split_keeps_class_shares_and_is_seeded() {
        let labels: Vec<usize> = (0..1000).map(|i| usize::from(i % 5 == 0)).collect();
        let all: Vec<usize> = (0..1000).collect();
        let (train, test) = stratified(&all, &labels, 0.2, 1);
        assert_eq!((train.len(), test.len()), (800, 200));
        assert_eq!(test.iter().filter(|&&i| labels[i] == 1).count(), 40);
        assert_eq!(stratified(&all, &labels, 0.2, 1).1, test);
        assert_ne!(stratified(&all, &labels, 0.2, 2).1, test);
        let f = folds(&labels, 5, 3);
        assert_eq!(f.iter().map(Vec::len).sum::<usize>(), 1000);
        assert_eq!(complement(1000, &f[0]).len(), 800);
    }
}
