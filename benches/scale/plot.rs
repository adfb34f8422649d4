//! docs/performance.png: time and memory against N, the operator beside its floor.
//!
//! Drawn with plotters' bitmap backend; text uses the ASCII subset of DejaVu Sans shipped in
//! `font/` (registered with plotters' ab_glyph support), so the plot looks the same on every
//! machine and needs no system font.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::report::Row;

static FONT: &[u8] = include_bytes!("font/DejaVuSans-ascii.ttf");

/// Why the plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed (file, encoding, font).
    #[error("drawing {path}: {message}")]
    Draw { path: String, message: String },
    /// Nothing to draw.
    #[error("no results to plot")]
    Empty,
}

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are embedded and checked by the tests, so a failure here is a build bug.
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            panic!("the font embedded from benches/scale/font is not a font");
        }
    });
}

/// A line of the time chart: its legend, its colour and the value it plots.
type Series = (&'static str, RGBColor, fn(&Row) -> f64);

/// Draws the rows (sorted by N) into a PNG at `path`: time on the left, memory on the right.
pub fn render(rows: &[Row], path: &Path) -> Result<(), PlotError> {
    if rows.is_empty() {
        return Err(PlotError::Empty);
    }
    register();
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.users);
    let fail = |e: &dyn std::fmt::Display| PlotError::Draw { path: path.display().to_string(), message: e.to_string() };
    let root = BitMapBackend::new(path, (1280, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (left, right) = root.split_horizontally(680);

    let max_n = rows.iter().map(|r| r.users).max().unwrap_or(1) as f64 * 1.05;
    let series_time: [Series; 4] = [
        ("operator: convergence", RGBColor(0, 90, 181), |r| r.convergence.as_secs_f64()),
        ("floor: convergence", RGBColor(0, 90, 181), |r| r.floor.as_secs_f64()),
        ("operator: fan-out", RGBColor(220, 50, 32), |r| r.fan_out.as_secs_f64()),
        ("floor: fan-out", RGBColor(220, 50, 32), |r| r.fan_out_floor.as_secs_f64()),
    ];
    let max_t =
        rows.iter().flat_map(|r| series_time.iter().map(move |(_, _, f)| f(r))).fold(0.0_f64, f64::max).max(1.0) * 1.1;
    let mut chart = ChartBuilder::on(&left)
        .caption("Time against users", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_n, 0.0..max_t)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("users")
        .y_desc("seconds")
        .light_line_style(WHITE)
        .x_label_formatter(&|x| super::report::thousands(x.round() as usize))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (name, colour, f)) in series_time.iter().enumerate() {
        let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.users as f64, f(r))).collect();
        // A floor shares its operator series' colour: thin line, hollow markers.
        let floor = i % 2 == 1;
        let style = if floor { colour.stroke_width(1) } else { colour.stroke_width(3) };
        chart
            .draw_series(LineSeries::new(points.clone(), style))
            .map_err(|e| fail(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(
                points.iter().map(|p| Circle::new(*p, 4, if floor { colour.stroke_width(1) } else { colour.filled() })),
            )
            .map_err(|e| fail(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;

    let max_m = rows.iter().map(Row::peak_rss_mib).fold(0.0_f64, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(&right)
        .caption("Operator peak RSS (VmHWM)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_n, 0.0..max_m)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("users")
        .y_desc("MiB")
        .light_line_style(WHITE)
        .x_label_formatter(&|x| super::report::thousands(x.round() as usize))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.users as f64, r.peak_rss_mib())).collect();
    let colour = RGBColor(0, 130, 60);
    chart
        .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
        .map_err(|e| fail(&e))?
        .label("operator peak RSS")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled()))).map_err(|e| fail(&e))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
