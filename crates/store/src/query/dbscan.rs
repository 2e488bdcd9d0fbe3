//! DBSCAN over points on the sphere, accelerated by a 3-D grid.
//!
//! Points are placed on a sphere of the Earth's radius (x, y, z in km) and
//! bucketed into cubes of side `eps_km`. Two points within `eps_km` along the
//! surface are within `eps_km` in a straight line, so every neighbour of a point
//! lies in its own or one of the 26 adjacent cubes; candidates are then checked
//! with the haversine distance. Poles and the antimeridian need no special case.

use std::collections::HashMap;

use ntsb_model::query::haversine_km;

const EARTH_KM: f64 = 6371.0088;

type Cell = (i64, i64, i64);

fn xyz(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [EARTH_KM * la.cos() * lo.cos(), EARTH_KM * la.cos() * lo.sin(), EARTH_KM * la.sin()]
}

struct Grid<'p> {
    points: &'p [(f64, f64)],
    eps_km: f64,
    cells: HashMap<Cell, Vec<usize>>,
    cell_of: Vec<Cell>,
}

impl<'p> Grid<'p> {
    fn new(points: &'p [(f64, f64)], eps_km: f64) -> Grid<'p> {
        let mut cells: HashMap<Cell, Vec<usize>> = HashMap::new();
        let mut cell_of = Vec::with_capacity(points.len());
        for (i, &(lat, lon)) in points.iter().enumerate() {
            let p = xyz(lat, lon);
            let c = ((p[0] / eps_km).floor() as i64, (p[1] / eps_km).floor() as i64, (p[2] / eps_km).floor() as i64);
            cells.entry(c).or_default().push(i);
            cell_of.push(c);
        }
        Grid { points, eps_km, cells, cell_of }
    }

    /// Indices of the points within `eps_km` of point `i`, itself included.
    fn neighbours(&self, i: usize, out: &mut Vec<usize>) {
        out.clear();
        let (lat, lon) = self.points[i];
        let (cx, cy, cz) = self.cell_of[i];
        for dx in -1..=1 {
            for dy in -1..=1 {
                for dz in -1..=1 {
                    if let Some(members) = self.cells.get(&(cx + dx, cy + dy, cz + dz)) {
                        for &j in members {
                            let (la, lo) = self.points[j];
                            if haversine_km(lat, lon, la, lo) <= self.eps_km {
                                out.push(j);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Cluster label of every point (`None` for noise), clusters numbered from 0 in
/// discovery order. A core point has at least `min_points` points (itself
/// included) within `eps_km`.
pub(crate) fn dbscan(points: &[(f64, f64)], eps_km: f64, min_points: usize) -> Vec<Option<u32>> {
    let grid = Grid::new(points, eps_km);
    let mut label: Vec<Option<u32>> = vec![None; points.len()];
    let mut visited = vec![false; points.len()];
    let mut next = 0u32;
    let mut buf = Vec::new();
    let mut queue = Vec::new();
    for i in 0..points.len() {
        if visited[i] {
            continue;
        }
        visited[i] = true;
        grid.neighbours(i, &mut buf);
        if buf.len() < min_points {
            continue;
        }
        let id = next;
        next += 1;
        label[i] = Some(id);
        queue.clear();
        queue.extend(buf.iter().copied());
        while let Some(j) = queue.pop() {
            if label[j].is_none() {
                label[j] = Some(id);
            }
            if visited[j] {
                continue;
            }
            visited[j] = true;
            grid.neighbours(j, &mut buf);
            if buf.len() >= min_points {
                queue.extend(buf.iter().copied().filter(|&k| !visited[k] || label[k].is_none()));
            }
        }
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_two_groups_and_noise() {
        let mut pts = Vec::new();
        for k in 0..10 {
            pts.push((40.0 + k as f64 * 0.01, -100.0)); // ~1.1 km apart
            pts.push((-33.0, 151.0 + k as f64 * 0.01)); // ~0.9 km apart
        }
        pts.push((0.0, 0.0)); // alone
        let labels = dbscan(&pts, 2.0, 3);
        let (a, b) = (labels[0].unwrap(), labels[1].unwrap());
        assert_ne!(a, b);
        assert!((0..10).all(|k| labels[2 * k] == Some(a) && labels[2 * k + 1] == Some(b)), "{labels:?}");
        assert_eq!(labels[20], None);
    }

    #[test]
    fn wraps_the_antimeridian() {
        let pts = [(10.0, 179.99), (10.0, -179.99), (10.0, 179.995)];
        let labels = dbscan(&pts, 5.0, 3);
        assert!(labels.iter().all(|l| *l == Some(0)), "{labels:?}");
    }
}
