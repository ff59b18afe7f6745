//! How planning scales. A generated environment — 10,000 services over 5 tiers with
//! about 30,000 dependencies, 2 regions, 1,000 DNS records, some data sets and a
//! failover scenario — is validated, planned offline and rendered as markdown, several
//! times each; the medians, their ratio and the peak memory are printed against the
//! goals in BENCHMARKS.md.
//!
//! Run with `cargo bench --bench plan`.

#[path = "support/lcg.rs"]
mod lcg;
use lcg::Lcg;

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use drplan::cli::PlanFormat;
use drplan::cli::render;
use drplan::model::Environment;
use drplan::plan::file::PlanFile;
use drplan::plan::{Intent, Plan, assumed_actual};

const SERVICES: usize = 10_000;
const TIERS: usize = 5;
const DEPENDENCIES_PER_SERVICE: usize = 3;
const RECORDS: usize = 1_000;
const DATA_SETS: usize = 200;
const ITERATIONS: usize = 7;

const GOAL_RATIO: f64 = 3.0;
const GOAL_PLAN: Duration = Duration::from_secs(1);
const GOAL_PEAK_MB: f64 = 200.0;

fn main() {
    let text = environment();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, &text).expect("the temporary directory is writable");
    let loaded = drplan::model::load(&path).expect("the generated environment is valid");
    let env = &loaded.env;
    let scenario = env
        .scenario("region-outage")
        .expect("the generated environment declares region-outage");
    let plan = Plan::build(
        env,
        Intent::Scenario(scenario),
        &assumed_actual(env, Intent::Scenario(scenario)),
    );
    let dependencies: usize = env.services.iter().map(|s| s.depends_on.len()).sum();
    println!(
        "environment: {} services, {dependencies} dependencies, {} regions, {} DNS records, {} data sets ({} KiB of TOML)",
        env.services.len(),
        env.regions.len(),
        env.records.len(),
        env.data.len(),
        text.len() / 1024
    );
    println!(
        "plan: {} steps, {} changes; medians of {ITERATIONS} runs\n",
        plan.steps.len(),
        plan.summary.changes
    );

    let validate_time = median(|| {
        black_box(validate(&text));
    });
    let plan_time = median(|| {
        let env = validate(&text);
        let scenario = env.scenario("region-outage").expect("declared");
        black_box(Plan::build(
            &env,
            Intent::Scenario(scenario),
            &assumed_actual(&env, Intent::Scenario(scenario)),
        ));
    });
    let file = PlanFile::new(plan, &loaded, false, None, None);
    let render_time = median(|| {
        black_box(render::plan(env, &file, PlanFormat::Markdown));
    });
    let ratio = plan_time.as_secs_f64() / validate_time.as_secs_f64();
    let peak = peak_memory_mb();

    println!("validate           {:>9.1} ms", millis(validate_time));
    println!(
        "validate + plan    {:>9.1} ms   goal ≤ {} ms: {}",
        millis(plan_time),
        GOAL_PLAN.as_millis(),
        verdict(plan_time <= GOAL_PLAN)
    );
    println!(
        "plan / validate    {ratio:>9.2} ×    goal ≤ {GOAL_RATIO} ×: {}",
        verdict(ratio <= GOAL_RATIO)
    );
    println!("render markdown    {:>9.1} ms", millis(render_time));
    println!(
        "peak memory        {peak:>9.1} MB   goal ≤ {GOAL_PEAK_MB} MB: {}",
        verdict(peak <= GOAL_PEAK_MB)
    );
}

fn validate(text: &str) -> Environment {
    drplan::model::parse("bench.toml", text).expect("the generated environment is valid")
}

/// The median wall time of [`ITERATIONS`] runs of `run`.
fn median(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ITERATIONS / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The peak resident set size of this process (`VmHWM`), in MB.
fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A linear congruential generator (Knuth's MMIX constants), so every run plans the
/// same environment.
fn service_name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// The environment as TOML. Services are written in tier order and depend only on
/// services written before them, so every dependency is on the same or an earlier
/// tier and there is no cycle.
fn environment() -> String {
    let mut lcg = Lcg(42);
    let mut out = String::from(
        "[environment]\nname = \"bench\"\nhome = \"region-a\"\nrto = \"30m\"\n\n\
         [regions.region-a]\nrole = \"primary\"\n\n\
         [regions.region-b]\nrole = \"secondary\"\nstandby = \"warm\"\n\n",
    );
    for i in 0..SERVICES {
        let tier = 1 + i * TIERS / SERVICES;
        let mut dependencies: Vec<usize> = Vec::new();
        while dependencies.len() < DEPENDENCIES_PER_SERVICE.min(i) {
            let candidate = lcg.below(i);
            if !dependencies.contains(&candidate) {
                dependencies.push(candidate);
            }
        }
        let depends_on: Vec<String> = dependencies
            .iter()
            .map(|&d| format!("\"{}\"", service_name(d)))
            .collect();
        let _ = writeln!(
            out,
            "[services.{}]\ntier = {tier}\ndepends_on = [{}]\nregions = [\"region-a\", \"region-b\"]\nestimate = \"{}s\"\n\
             health = {{ url = \"https://{{service}}.{{region}}.bench.example/health\" }}",
            service_name(i),
            depends_on.join(", "),
            10 + lcg.below(300)
        );
        if i % 2 == 0 {
            out.push_str("activate = [\"deploy\", \"{service}\", \"--region\", \"{region}\"]\n");
        }
        out.push('\n');
    }
    for i in 0..RECORDS {
        let _ = writeln!(
            out,
            "[dns.rec-{i:04}]\nzone = \"bench.example\"\nname = \"rec-{i:04}.bench.example\"\ntype = \"CNAME\"\n\
             follows = \"{}\"\ntargets = {{ region-a = \"a.rec-{i:04}.bench.example\", region-b = \"b.rec-{i:04}.bench.example\" }}\n",
            service_name(lcg.below(SERVICES))
        );
    }
    for i in 0..DATA_SETS {
        let service = service_name(lcg.below(SERVICES));
        let method = if i % 2 == 0 { "restore" } else { "regenerate" };
        let _ = writeln!(
            out,
            "[data.data-{i:03}]\nservice = \"{service}\"\nrpo = \"1h\"\nmethod = \"{method}\""
        );
        if method == "restore" {
            let _ = writeln!(out, "backups = \"s3://bench-backups/data-{i:03}/\"");
        }
        out.push('\n');
    }
    out.push_str(
        "[scenarios.region-outage]\nseverity = \"SEV-1\"\nstrategy = \"failover\"\nto = \"region-b\"\napproval = \"any-engineer\"\n\n\
         [[notify]]\nto = \"on-call\"\nvia = \"webhook\"\nurl = \"${env:ONCALL_WEBHOOK}\"\n\n\
         [[checks]]\nname = \"site answers\"\nurl = \"https://bench.example/health\"\n",
    );
    out
}
