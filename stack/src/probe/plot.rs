//! `--plot`: the probe as an SVG picture. Top: one lane per edge environment (first seen at the
//! top), a mark per request, the lane's line from first to last seen; cold starts and errors
//! stand out. Bottom: every request's latency over the same time axis.
//!
//! plotters' SVG backend only, without its font features: text is written as SVG `<text>` and
//! sized by plotters' built-in estimate, so nothing reads fonts or needs fontconfig.

use plotters::prelude::*;

use super::observation::{Observation, Start};
use super::report::{Report, short};

const WIDTH: u32 = 1000;
const LANE_PX: u32 = 26;
const LATENCY_PX: u32 = 260;
const WARM: RGBColor = RGBColor(31, 119, 180);
const COLD: RGBColor = RGBColor(255, 127, 14);
const ERROR: RGBColor = RGBColor(214, 39, 40);
const LANE: RGBColor = RGBColor(200, 200, 200);

/// Label of the lane of requests that named no edge environment (errors, or another origin).
pub const NO_ENVIRONMENT_LANE: &str = "no environment";

/// Label of environment `id`'s lane: its number in first-seen order and its short id.
pub fn lane_label(index: usize, id: &str) -> String {
    format!("edge {} {}", index + 1, short(id))
}

#[derive(Debug, thiserror::Error)]
#[error("drawing the plot: {0}")]
pub struct PlotError(String);

fn err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError(format!("{e:?}"))
}

/// Which mark a request gets.
enum Mark {
    Warm,
    Cold,
    Error,
}

fn mark(o: &Observation) -> Mark {
    if o.is_error() {
        Mark::Error
    } else if o.edge_start == Some(Start::Cold) {
        Mark::Cold
    } else {
        Mark::Warm
    }
}

/// The SVG document.
pub fn svg(report: &Report) -> Result<String, PlotError> {
    let envs = &report.statistics.environments;
    let orphan = report.observations.iter().any(|o| o.edge_env.is_none());
    let lanes = envs.len() + usize::from(orphan);
    let lane_of = |o: &Observation| -> i32 {
        o.edge_env
            .as_deref()
            .and_then(|id| envs.iter().position(|e| e.id == id))
            .unwrap_or(envs.len()) as i32
    };
    let end_s = (report.duration_ms / 1000.0).max(
        report
            .observations
            .iter()
            .map(|o| o.sent_ms / 1000.0)
            .fold(0.0, f64::max),
    ) * 1.02
        + 0.05;
    let lanes_px = 90 + LANE_PX * lanes.max(1) as u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, lanes_px + LATENCY_PX + 40))
            .into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(lanes_px);
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!(
                    "{}: {} requests, {} edge environments   (dot: warm, big: cold start, cross: error)",
                    report.url,
                    report.statistics.overall.requests,
                    envs.len()
                ),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..end_s, (lanes as f64 - 0.5)..-0.5)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("seconds since the first request")
            .draw()
            .map_err(err)?;
        for (i, e) in envs.iter().enumerate() {
            let y = i as f64;
            chart
                .draw_series(LineSeries::new(
                    [(e.first_seen_ms / 1000.0, y), (e.last_seen_ms / 1000.0, y)],
                    LANE.stroke_width(3),
                ))
                .map_err(err)?;
        }
        let labels = envs
            .iter()
            .enumerate()
            .map(|(i, e)| (i, lane_label(i, &e.id)))
            .chain(orphan.then(|| (envs.len(), NO_ENVIRONMENT_LANE.to_owned())));
        for (i, label) in labels {
            let (_, py) = chart.backend_coord(&(0.0, i as f64));
            root.draw(&Text::new(
                label,
                (12, py - 6),
                ("monospace", 13).into_font().color(&BLACK),
            ))
            .map_err(err)?;
        }
        draw_marks(&mut chart, &report.observations, |o| f64::from(lane_of(o)))?;

        let max_ms = report
            .observations
            .iter()
            .map(|o| o.latency_ms)
            .fold(1.0, f64::max)
            * 1.1;
        let mut latency = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..end_s, 0.0..max_ms)
            .map_err(err)?;
        latency
            .configure_mesh()
            .x_desc("seconds since the first request")
            .y_desc("latency (ms)")
            .draw()
            .map_err(err)?;
        draw_marks(&mut latency, &report.observations, |o| o.latency_ms)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw_marks(
    chart: &mut Chart<'_, '_>,
    observations: &[Observation],
    y: impl Fn(&Observation) -> f64,
) -> Result<(), PlotError> {
    let at = |o: &Observation| (o.sent_ms / 1000.0, y(o));
    let of = |m: fn(&Mark) -> bool| observations.iter().filter(move |o| m(&mark(o)));
    chart
        .draw_series(of(|m| matches!(m, Mark::Warm)).map(|o| Circle::new(at(o), 3, WARM.filled())))
        .map_err(err)?;
    chart
        .draw_series(of(|m| matches!(m, Mark::Cold)).map(|o| Circle::new(at(o), 6, COLD.filled())))
        .map_err(err)?;
    chart
        .draw_series(
            of(|m| matches!(m, Mark::Error)).map(|o| Cross::new(at(o), 5, ERROR.stroke_width(2))),
        )
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::report::Settings;

    fn answered(seq: u64, env: &str, start: Start) -> Observation {
        let mut o = Observation::failed(seq, seq as f64 * 100.0, 5.0, "unused");
        o.status = Some(200);
        o.failure = None;
        o.edge_env = Some(env.to_owned());
        o.edge_start = Some(start);
        o
    }

    fn report(observations: Vec<Observation>) -> Report {
        let settings = Settings {
            max_requests: 10,
            max_duration_ms: 1000,
            concurrency: 1,
            rate_per_second: 10.0,
            timeout_ms: 1000,
            cookie_jar: false,
            user_agent: "test".into(),
        };
        Report::new(
            "https://example.com/?a=1&b=<2>",
            "2026-11-27T10:00:00.000Z".into(),
            1000.0,
            false,
            settings,
            observations,
        )
    }

    #[test]
    fn one_lane_per_environment_plus_one_for_requests_without_one_and_marks_apart() {
        let r = report(vec![
            answered(0, "aaaaaaaaaaaa", Start::Cold),
            answered(1, "aaaaaaaaaaaa", Start::Warm),
            answered(2, "bbbbbbbbbbbb", Start::Cold),
            Observation::failed(3, 300.0, 1000.0, "timeout"),
        ]);
        let svg = svg(&r).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        let lanes: Vec<&&str> = texts
            .iter()
            .filter(|t| t.starts_with("edge ") || **t == NO_ENVIRONMENT_LANE)
            .collect();
        assert_eq!(
            lanes,
            [&"edge 1 aaaaaaaa", &"edge 2 bbbbbbbb", &NO_ENVIRONMENT_LANE]
        );
        let radii: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .filter_map(|n| n.attribute("r"))
            .collect();
        // Both panels: one warm (small) and two cold (big) marks each; the error is a cross.
        assert_eq!(radii.iter().filter(|r| **r == "3").count(), 2, "{radii:?}");
        assert_eq!(radii.iter().filter(|r| **r == "6").count(), 4, "{radii:?}");
        assert_eq!(radii.len(), 6);
    }

    #[test]
    fn nothing_observed_still_draws() {
        let svg = svg(&report(Vec::new())).unwrap();
        assert!(roxmltree::Document::parse(&svg).is_ok());
    }
}
