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

/// The latest `fraction` of `idx` by date (`(train, held_out)`, both sorted):
/// the held-out rows are the most recent ones, ties broken by position, and
/// undated rows always train. For early stopping and calibration on the data
/// closest to the future a model will score.
pub fn latest(idx: &[usize], dates: &[Option<NaiveDate>], fraction: f64) -> (Vec<usize>, Vec<usize>) {
    let mut dated: Vec<usize> = idx.iter().copied().filter(|&i| dates[i].is_some()).collect();
    dated.sort_by_key(|&i| (dates[i], i));
    let n_held = ((idx.len() as f64 * fraction).round() as usize).min(dated.len());
    let mut held: Vec<usize> = dated.split_off(dated.len() - n_held);
    let mut train: Vec<usize> = idx.iter().copied().filter(|&i| dates[i].is_none()).chain(dated).collect();
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
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

    #[test]
    fn the_latest_split_holds_out_the_most_recent_dated_rows() {
        let d = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1);
        let dates = vec![d(2001), None, d(1999), d(2005), d(2003), d(2005), None, d(2000), d(2002), d(2004)];
        let idx: Vec<usize> = (0..10).collect();
        let (train, held) = latest(&idx, &dates, 0.3);
        assert_eq!(held, vec![3, 5, 9]);
        assert_eq!(train, vec![0, 1, 2, 4, 6, 7, 8]);
    }
}
