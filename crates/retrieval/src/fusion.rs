//! Reciprocal rank fusion of ranked lists.

use std::collections::HashMap;

/// The constant of reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009):
/// a document at rank r (from 1) of a list earns 1 / (K + r).
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists of ids (best first) by reciprocal rank fusion: each id's
/// score is the sum over the lists of 1 / ([`RRF_K`] + rank). Returns ids and
/// fused scores, best first; ties go to the id ranked better in the earlier
/// list, then to the smaller id, so the order is deterministic.
pub fn reciprocal_rank_fusion(lists: &[&[i64]]) -> Vec<(i64, f32)> {
    let mut scores: HashMap<i64, (f32, usize)> = HashMap::new();
    for (l, list) in lists.iter().enumerate() {
        for (rank, id) in list.iter().enumerate() {
            let e = scores.entry(*id).or_insert((0.0, usize::MAX));
            e.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
            e.1 = e.1.min(l * 1_000_000 + rank);
        }
    }
    let mut out: Vec<(i64, f32, usize)> = scores.into_iter().map(|(id, (s, first))| (id, s, first)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_in_both_lists_beats_ids_in_one() {
        let fused = reciprocal_rank_fusion(&[&[1, 2, 3], &[4, 3, 5]]);
        assert_eq!(fused[0].0, 3, "{fused:?}");
        let ids: Vec<i64> = fused.iter().map(|x| x.0).collect();
        assert_eq!(ids.len(), 5);
        // 1 and 4 are both first of one list: the earlier list wins the tie.
        assert_eq!(&ids[1..3], &[1, 4]);
        let expected = 1.0 / (RRF_K + 3.0) + 1.0 / (RRF_K + 2.0);
        assert!((fused[0].1 - expected).abs() < 1e-6);
    }

    #[test]
    fn empty_lists_fuse_to_nothing() {
        assert!(reciprocal_rank_fusion(&[&[], &[]]).is_empty());
        assert_eq!(reciprocal_rank_fusion(&[&[7], &[]]), vec![(7, 1.0 / (RRF_K + 1.0))]);
    }
}
