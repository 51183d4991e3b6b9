//! SVG bar charts (plotters) for docs/bench/*.svg.

use std::path::Path;

use plotters::prelude::*;

use super::model::Spread;

/// One bar: a label, the value with its spread, and whether it is ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label drawn on the bar.
    pub label: String,
    /// Median and range (whiskers).
    pub value: Spread,
    /// Ours (blue) or a peer (grey).
    pub ours: bool,
}

/// One panel of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Panel caption.
    pub caption: String,
    /// Bars, top to bottom.
    pub bars: Vec<Bar>,
    /// Formats a value for its label.
    pub unit: &'static str,
    /// Draw a reference line at x = 1 (ratios).
    pub unit_line: bool,
}

const OURS: RGBColor = RGBColor(120, 170, 230);
const PEER: RGBColor = RGBColor(200, 200, 200);
const WHISKER: RGBColor = RGBColor(40, 40, 40);

/// Formats a figure compactly: 123456 → "123k", 1.234 → "1.23".
pub fn compact(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Draws `panels` side by side into an SVG file.
pub fn draw(path: &Path, title: &str, panels: &[Panel]) -> Result<(), String> {
    let rows = panels
        .iter()
        .map(|p| p.bars.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 520 * panels.len().max(1) as u32;
    let height = 90 + 34 * rows as u32;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| format!("{}: {e:?}", path.display());
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(title, ("sans-serif", 18))
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    root.present()
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> Result<(), String> {
    let n = p.bars.len().max(1);
    let xmax = p
        .bars
        .iter()
        .map(|b| b.value.max.max(b.value.median))
        .filter(|x| x.is_finite())
        .fold(if p.unit_line { 1.0 } else { 0.0 }, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.caption, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(4)
        .build_cartesian_2d(0.0..xmax, 0.0..n as f64)
        .map_err(|e| format!("{e:?}"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(5)
        .x_label_formatter(&|x| compact(*x))
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(|e| format!("{e:?}"))?;
    for (i, b) in p.bars.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let v = if b.value.median.is_finite() {
            b.value.median
        } else {
            0.0
        };
        let color = if b.ours { OURS } else { PEER };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (v, y + 0.85)],
                color.filled(),
            )))
            .map_err(|e| format!("{e:?}"))?;
        if b.value.min.is_finite() && b.value.max.is_finite() && b.value.max > b.value.min {
            let mid = y + 0.5;
            let (lo, hi) = (b.value.min, b.value.max);
            let whisker = [
                vec![(lo, mid), (hi, mid)],
                vec![(lo, mid - 0.15), (lo, mid + 0.15)],
                vec![(hi, mid - 0.15), (hi, mid + 0.15)],
            ];
            chart
                .draw_series(
                    whisker
                        .into_iter()
                        .map(|pts| PathElement::new(pts, WHISKER.stroke_width(1))),
                )
                .map_err(|e| format!("{e:?}"))?;
        }
        let text = format!("{}  {}{}", b.label, compact(v), p.unit);
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (xmax * 0.01, y + 0.62),
                ("sans-serif", 12).into_font().color(&BLACK),
            )))
            .map_err(|e| format!("{e:?}"))?;
    }
    if p.unit_line {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, n as f64)],
                RED.stroke_width(1),
            )))
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(1_234_567.0), "1.23M");
        assert_eq!(compact(123_456.0), "123k");
        assert_eq!(compact(456.0), "456");
        assert_eq!(compact(12.34), "12.3");
        assert_eq!(compact(0.456), "0.46");
        assert_eq!(compact(0.0), "0");
    }

    #[test]
    fn draws_an_svg_with_labels() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.svg");
        let s = |m| Spread {
            median: m,
            min: m * 0.9,
            max: m * 1.1,
        };
        let panel = |unit_line| Panel {
            caption: "req/s".into(),
            bars: vec![
                Bar {
                    label: "shockwave".into(),
                    value: s(120_000.0),
                    ours: true,
                },
                Bar {
                    label: "hyper".into(),
                    value: s(100_000.0),
                    ours: false,
                },
            ],
            unit: "",
            unit_line,
        };
        draw(&path, "HTTP/1.1", &[panel(false), panel(true)]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50.min(svg.len())]);
        assert!(svg.contains("shockwave  120k"));
        assert!(svg.contains("HTTP/1.1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
