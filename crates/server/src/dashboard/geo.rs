//! Map outlines, shipped inside the binary: the U.S. states of npm `us-atlas`
//! 3.0.1 (`states-albers-10m.json`, already in the Albers USA projection of a
//! 975 × 610 frame) and the countries of npm `world-atlas` 2.0.2
//! (`countries-110m.json`, longitude/latitude), both ISC-licensed (see
//! `assets/vendor/*/LICENSE`). Their TopoJSON is decoded once into SVG path
//! data; event points are projected here with the same projections.

use std::sync::OnceLock;

use serde::Deserialize;

use super::charts::fmt;

static US_STATES: &[u8] = include_bytes!("../../assets/vendor/us-atlas/states-albers-10m.json");
static WORLD: &[u8] = include_bytes!("../../assets/vendor/world-atlas/countries-110m.json");

/// One outline: its id in the atlas, name and SVG path data.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// The atlas's id (FIPS code for states, ISO 3166-1 numeric for countries).
    pub id: String,
    /// Name.
    pub name: String,
    /// SVG path data.
    pub path: String,
}

#[derive(Deserialize)]
struct Topology {
    transform: Transform,
    arcs: Vec<Vec<[i64; 2]>>,
    objects: std::collections::HashMap<String, Collection>,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct Collection {
    geometries: Vec<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    arcs: serde_json::Value,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct Properties {
    name: Option<String>,
}

/// Decodes `object` of a TopoJSON topology into shapes, each point mapped by
/// `project`. With `wrap` (the frame's width), a ring that crosses the
/// antimeridian is kept continuous past the frame's edge (which hides it)
/// instead of jumping across the whole map.
fn decode(
    json: &[u8],
    object: &str,
    project: &dyn Fn(f64, f64) -> (f64, f64),
    wrap: Option<f64>,
) -> Result<Vec<Shape>, String> {
    let topo: Topology = serde_json::from_slice(json).map_err(|e| format!("outline file: {e}"))?;
    let [sx, sy] = topo.transform.scale;
    let [tx, ty] = topo.transform.translate;
    // Quantised, delta-encoded arcs to absolute projected points.
    let arcs: Vec<Vec<(f64, f64)>> = topo
        .arcs
        .iter()
        .map(|arc| {
            let (mut x, mut y) = (0i64, 0i64);
            arc.iter()
                .map(|[dx, dy]| {
                    x += dx;
                    y += dy;
                    project(x as f64 * sx + tx, y as f64 * sy + ty)
                })
                .collect()
        })
        .collect();
    let collection = topo.objects.get(object).ok_or_else(|| format!("outline file has no object {object:?}"))?;
    let mut shapes = Vec::with_capacity(collection.geometries.len());
    for g in &collection.geometries {
        let polygons: Vec<Vec<Vec<i64>>> = match g.kind.as_str() {
            "Polygon" => vec![serde_json::from_value(g.arcs.clone()).map_err(|e| e.to_string())?],
            "MultiPolygon" => serde_json::from_value(g.arcs.clone()).map_err(|e| e.to_string())?,
            _ => continue,
        };
        let mut path = String::new();
        for ring in polygons.iter().flatten() {
            ring_path(&arcs, ring, wrap, &mut path);
        }
        let id = match &g.id {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let name = g.properties.as_ref().and_then(|p| p.name.clone()).unwrap_or_default();
        shapes.push(Shape { id, name, path });
    }
    Ok(shapes)
}

/// Appends one ring (a list of arc indexes, `!i` for arc `i` reversed) as `M…Z`.
fn ring_path(arcs: &[Vec<(f64, f64)>], ring: &[i64], wrap: Option<f64>, out: &mut String) {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for &index in ring {
        let (i, reversed) = if index < 0 { ((!index) as usize, true) } else { (index as usize, false) };
        let Some(arc) = arcs.get(i) else { continue };
        let mut arc = arc.clone();
        if reversed {
            arc.reverse();
        }
        // Consecutive arcs share their end points.
        let skip = usize::from(!points.is_empty());
        points.extend(arc.into_iter().skip(skip));
    }
    if let Some(width) = wrap {
        let mut shift = 0.0;
        for k in 1..points.len() {
            let jump = points[k].0 + shift - points[k - 1].0;
            if jump > width / 2.0 {
                shift -= width;
            } else if jump < -width / 2.0 {
                shift += width;
            }
            points[k].0 += shift;
        }
    }
    let mut last = String::new();
    for (k, (x, y)) in points.iter().enumerate() {
        let p = format!("{},{}", fmt(*x), fmt(*y));
        if p == last {
            continue;
        }
        out.push(if k == 0 { 'M' } else { 'L' });
        out.push_str(&p);
        last = p;
    }
    if !points.is_empty() {
        out.push('Z');
    }
}

/// The U.S. states (and D.C.), in the 975 × 610 Albers USA frame.
pub(crate) fn us_states() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        decode(US_STATES, "states", &|x, y| (x, y), None).unwrap_or_else(|e| {
            tracing::error!(cause = %e, "the vendored U.S. outlines do not decode");
            Vec::new()
        })
    })
}

/// Width and height of the world frame ([`world_point`]).
pub(crate) const WORLD_FRAME: (f64, f64) = (900.0, 380.0);

/// A longitude/latitude in the world frame: equirectangular, 2.5 units a
/// degree, from 84° N down to 68° S (Antarctica is left out).
pub(crate) fn world_point(lon: f64, lat: f64) -> (f64, f64) {
    ((lon + 180.0) * 2.5, (84.0 - lat) * 2.5)
}

/// The countries but Antarctica, in the world frame.
pub(crate) fn countries() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| match decode(WORLD, "countries", &world_point, Some(WORLD_FRAME.0)) {
        Ok(mut shapes) => {
            shapes.retain(|s| s.name != "Antarctica");
            shapes
        }
        Err(e) => {
            tracing::error!(cause = %e, "the vendored world outlines do not decode");
            Vec::new()
        }
    })
}

/// The two-letter postal code of a state's FIPS code.
pub(crate) fn postal_code(fips: &str) -> Option<&'static str> {
    const CODES: [(&str, &str); 51] = [
        ("01", "AL"),
        ("02", "AK"),
        ("04", "AZ"),
        ("05", "AR"),
        ("06", "CA"),
        ("08", "CO"),
        ("09", "CT"),
        ("10", "DE"),
        ("11", "DC"),
        ("12", "FL"),
        ("13", "GA"),
        ("15", "HI"),
        ("16", "ID"),
        ("17", "IL"),
        ("18", "IN"),
        ("19", "IA"),
        ("20", "KS"),
        ("21", "KY"),
        ("22", "LA"),
        ("23", "ME"),
        ("24", "MD"),
        ("25", "MA"),
        ("26", "MI"),
        ("27", "MN"),
        ("28", "MS"),
        ("29", "MO"),
        ("30", "MT"),
        ("31", "NE"),
        ("32", "NV"),
        ("33", "NH"),
        ("34", "NJ"),
        ("35", "NM"),
        ("36", "NY"),
        ("37", "NC"),
        ("38", "ND"),
        ("39", "OH"),
        ("40", "OK"),
        ("41", "OR"),
        ("42", "PA"),
        ("44", "RI"),
        ("45", "SC"),
        ("46", "SD"),
        ("47", "TN"),
        ("48", "TX"),
        ("49", "UT"),
        ("50", "VT"),
        ("51", "VA"),
        ("53", "WA"),
        ("54", "WV"),
        ("55", "WI"),
        ("56", "WY"),
    ];
    CODES.iter().find(|(f, _)| *f == fips).map(|(_, c)| *c)
}

/// A conic equal-area projection as d3-geo defines it (`geoConicEqualArea`
/// with `rotate`, `center`, `parallels`, `scale` and `translate`).
struct Conic {
    n: f64,
    c: f64,
    r0: f64,
    rotate: f64,
    centre: (f64, f64),
    k: f64,
    translate: (f64, f64),
}

impl Conic {
    fn new(parallels: (f64, f64), rotate: f64, centre: (f64, f64), k: f64, translate: (f64, f64)) -> Conic {
        let sy0 = parallels.0.to_radians().sin();
        let n = (sy0 + parallels.1.to_radians().sin()) / 2.0;
        let c = 1.0 + sy0 * (2.0 * n - sy0);
        let mut conic = Conic { n, c, r0: c.sqrt() / n, rotate, centre: (0.0, 0.0), k, translate };
        conic.centre = conic.raw(centre.0.to_radians(), centre.1.to_radians());
        conic
    }

    fn raw(&self, lambda: f64, phi: f64) -> (f64, f64) {
        let r = (self.c - 2.0 * self.n * phi.sin()).max(0.0).sqrt() / self.n;
        let x = lambda * self.n;
        (r * x.sin(), self.r0 - r * x.cos())
    }

    fn project(&self, lon: f64, lat: f64) -> (f64, f64) {
        let mut lambda = (lon + self.rotate).to_radians();
        if lambda > std::f64::consts::PI {
            lambda -= 2.0 * std::f64::consts::PI;
        } else if lambda < -std::f64::consts::PI {
            lambda += 2.0 * std::f64::consts::PI;
        }
        let (x, y) = self.raw(lambda, lat.to_radians());
        (self.translate.0 + self.k * (x - self.centre.0), self.translate.1 - self.k * (y - self.centre.1))
    }
}

/// A longitude/latitude in the frame of the U.S. outlines: d3-geo's
/// `geoAlbersUsa().scale(1300).translate([487.5, 305])`, which us-atlas used
/// (lower 48, Alaska and Hawaii insets, each clipped to its box). `None` for
/// points outside all three (Puerto Rico, Guam, abroad).
pub(crate) fn us_point(lon: f64, lat: f64) -> Option<(f64, f64)> {
    const K: f64 = 1300.0;
    const X: f64 = 487.5;
    const Y: f64 = 305.0;
    static PROJECTIONS: OnceLock<[Conic; 3]> = OnceLock::new();
    let [lower48, alaska, hawaii] = PROJECTIONS.get_or_init(|| {
        [
            Conic::new((29.5, 45.5), 96.0, (-0.6, 38.7), K, (X, Y)),
            Conic::new((55.0, 65.0), 154.0, (-2.0, 58.5), K * 0.35, (X - 0.307 * K, Y + 0.201 * K)),
            Conic::new((8.0, 18.0), 157.0, (-3.0, 19.9), K, (X - 0.205 * K, Y + 0.212 * K)),
        ]
    });
    let inside = |(x, y): (f64, f64), x0: f64, y0: f64, x1: f64, y1: f64| {
        (X + x0 * K..X + x1 * K).contains(&x) && (Y + y0 * K..Y + y1 * K).contains(&y)
    };
    let p = lower48.project(lon, lat);
    if inside(p, -0.455, -0.238, 0.455, 0.238) {
        return Some(p);
    }
    let p = alaska.project(lon, lat);
    if inside(p, -0.425, 0.120, -0.214, 0.234) {
        return Some(p);
    }
    let p = hawaii.project(lon, lat);
    if inside(p, -0.214, 0.166, -0.115, 0.234) {
        return Some(p);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether (x, y) lies inside a path of `M…L…Z` rings (even-odd rule).
    fn inside(path: &str, x: f64, y: f64) -> bool {
        let mut crossings = 0;
        for ring in path.split('Z').filter(|r| !r.is_empty()) {
            let pts: Vec<(f64, f64)> = ring
                .split(['M', 'L'])
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (a, b) = p.split_once(',').unwrap();
                    (a.parse().unwrap(), b.parse().unwrap())
                })
                .collect();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 > y) != (b.1 > y) && x < a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0) {
                    crossings += 1;
                }
            }
        }
        crossings % 2 == 1
    }

    fn state(code: &str) -> &'static Shape {
        us_states().iter().find(|s| postal_code(&s.id) == Some(code)).unwrap()
    }

    #[test]
    fn every_state_decodes_and_has_a_postal_code() {
        let states = us_states();
        assert_eq!(states.len(), 51);
        for s in states {
            assert!(postal_code(&s.id).is_some(), "{} {}", s.id, s.name);
            assert!(s.path.starts_with('M') && s.path.ends_with('Z'), "{}", s.name);
        }
        assert!(countries().len() > 170);
    }

    #[test]
    fn cities_fall_inside_their_state_on_the_us_map() {
        // (lon, lat, state): the projection of points matches the atlas's outlines.
        for (lon, lat, code) in [
            (-104.99, 39.74, "CO"),
            (-118.24, 34.05, "CA"),
            (-97.74, 30.27, "TX"),
            (-73.94, 40.67, "NY"),
            (-149.90, 61.22, "AK"),
            (-157.86, 21.31, "HI"),
            (-80.19, 25.76, "FL"),
        ] {
            let (x, y) = us_point(lon, lat).unwrap_or_else(|| panic!("{code} is off the map"));
            assert!(inside(&state(code).path, x, y), "{code}: ({x}, {y})");
        }
        assert_eq!(us_point(2.35, 48.86), None, "Paris is not on the U.S. map");
    }

    #[test]
    fn cities_fall_inside_their_country_on_the_world_map() {
        for (lon, lat, name) in [(2.35, 48.86, "France"), (-47.9, -15.8, "Brazil"), (139.7, 35.7, "Japan")] {
            let (x, y) = world_point(lon, lat);
            let shape = countries().iter().find(|s| s.name == name).unwrap();
            assert!(inside(&shape.path, x, y), "{name}");
        }
    }
}
