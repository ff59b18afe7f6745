//! `drplan plan FILE (--scenario S | --failback | --all) --offline`: the reviewable plan,
//! printed or written, and `--check DIR` to keep committed plans honest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use super::render::{self, Rendered};
use super::validate_command::{WarningFlags, report_warnings};
use super::{EnvironmentFile, PlanFormat, Target, print};
use crate::error::Error;
use crate::fsio::{Durability, write_atomic};
use crate::model::Environment;
use crate::model::LoadedEnvironment;
use crate::plan::file::PlanFile;
use crate::plan::{Intent, Plan, assumed_actual};
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    #[command(flatten)]
    pub target: Target,
    /// Plan every scenario and the failback: one markdown document that fits a pull-request comment (or with --out DIR, one file per plan; --check DIR compares them).
    #[arg(long, conflicts_with_all = ["scenario", "failback"])]
    pub all: bool,
    /// Assume the nominal actual state instead of reading it: every service active at
    /// home, DNS at home, backups of unknown age (for the failback: everything failed over).
    #[arg(long)]
    pub offline: bool,
    /// How to print the plan [default: text; with --out FILE: json, the saved plan `apply` runs; --all writes markdown].
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
    /// Restores use the newest backup before this time (RFC 3339, e.g. 2026-11-29T10:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = super::time_arg)]
    pub at: Option<SystemTime>,
    #[command(flatten)]
    pub sim: SimFlags,
    #[command(flatten)]
    pub warnings: WarningFlags,
    /// Write the plan to this file (with --all: one markdown file per plan into this directory).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// With --all: exit 1 and print a diff if any plan in DIR differs from what would be written now.
    #[arg(long, value_name = "DIR", requires = "all", conflicts_with = "out")]
    pub check: Option<PathBuf>,
    /// Exit 0 when there is nothing to change, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(args: &PlanArgs) -> Result<ExitCode, Error> {
    if args.all {
        if !args.offline {
            return Err(Error::Usage {
                message: "--all plans every scenario against the assumed nominal state".to_string(),
                help: "add --offline".to_string(),
            });
        }
        let loaded = crate::model::load(&args.env.file)?;
        report_warnings(&loaded, None, args.warnings)?;
        return all(&loaded, args);
    }
    let (loaded, file) = if args.offline {
        offline(args)?
    } else {
        block_on(live(args))??
    };
    let scenario = (file.plan.intent.name != "failback").then_some(file.plan.intent.name.as_str());
    report_warnings(&loaded, scenario, args.warnings)?;
    let env = loaded.env;
    let format = args.format.unwrap_or(if args.out.is_some() {
        PlanFormat::Json
    } else {
        PlanFormat::Text
    });
    let text = render::plan(&env, &file, format);
    match &args.out {
        Some(path) => {
            write_atomic(path, text.as_bytes(), Durability::ProcessKill)?;
            print(&saved(path, &file, format))?;
        }
        None => print(&text)?,
    }
    Ok(exit_code(args, !file.plan.is_empty()))
}

/// What `--out FILE` says: where the plan went, and for a saved plan how to look at
/// it again and run it.
fn saved(path: &Path, file: &PlanFile, format: PlanFormat) -> String {
    let path = path.display();
    if format != PlanFormat::Json {
        return format!(
            "wrote the plan to {path} (to save a plan `apply` can run, use --format json)\n"
        );
    }
    let run = if file.observed.is_some() {
        format!("drplan apply {path}")
    } else {
        "an offline plan: plan without --offline to apply".to_string()
    };
    format!("saved the plan to {path}\n  review it: drplan show {path}\n  run it:    {run}\n")
}

fn which<'e>(env: &'e Environment, args: &PlanArgs) -> Result<Intent<'e>, Error> {
    super::intent(env, &args.target)?.ok_or_else(|| Error::Usage {
        message: "which plan? none of --scenario, --failback or --all was given".to_string(),
        help: "add --scenario NAME, --failback, or --all --offline --out DIR".to_string(),
    })
}

/// The plan against the assumed nominal state.
fn offline(args: &PlanArgs) -> Result<(LoadedEnvironment, PlanFile), Error> {
    let loaded = crate::model::load(&args.env.file)?;
    let intent = which(&loaded.env, args)?;
    let plan = Plan::build(&loaded.env, intent, &assumed_actual(&loaded.env, intent));
    let file = PlanFile::new(plan, &loaded, args.sim.sim, None, None);
    Ok((loaded, file))
}

/// The plan against the observed world.
async fn live(args: &PlanArgs) -> Result<(LoadedEnvironment, PlanFile), Error> {
    let session = Session::open(&args.env.file, args.sim).await?;
    let scenario = match which(&session.loaded.env, args)? {
        Intent::Scenario(scenario) => Some(scenario.name.value.clone()),
        Intent::Failback => None,
    };
    let (state, version) = session.state().await?;
    let file = session
        .plan(scenario.as_deref(), &state, version.as_ref(), args.at)
        .await?;
    Ok((session.loaded, file))
}

fn exit_code(args: &PlanArgs, changes: bool) -> ExitCode {
    if args.detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every scenario and the failback, planned against the assumed nominal state.
fn all_plans(loaded: &LoadedEnvironment) -> Vec<PlanFile> {
    let env = &loaded.env;
    let intents = env
        .scenarios
        .iter()
        .map(Intent::Scenario)
        .chain([Intent::Failback]);
    intents
        .map(|intent| {
            let plan = Plan::build(env, intent, &assumed_actual(env, intent));
            PlanFile::new(plan, loaded, false, None, None)
        })
        .collect()
}

/// Each plan as a markdown file named after it.
fn markdown_files(env: &Environment, files: &[PlanFile]) -> Vec<Rendered> {
    files
        .iter()
        .map(|file| Rendered {
            name: format!("{}.md", crate::paths::component(&file.plan.intent.name)),
            text: render::plan(env, file, PlanFormat::Markdown),
            has_changes: !file.plan.is_empty(),
        })
        .collect()
}

fn all(loaded: &LoadedEnvironment, args: &PlanArgs) -> Result<ExitCode, Error> {
    let files = all_plans(loaded);
    let changes = files.iter().any(|f| !f.plan.is_empty());
    let plans = markdown_files(&loaded.env, &files);
    if let Some(dir) = &args.check {
        return check(dir, &plans);
    }
    let Some(dir) = &args.out else {
        if args.format.is_some_and(|f| f != PlanFormat::Markdown) {
            return Err(Error::Usage {
                message: "--all prints one markdown document (or writes one file per plan with --out DIR)".to_string(),
                help: "leave out --format, or add --out DIR".to_string(),
            });
        }
        print(&render::all_markdown(&loaded.env, &files))?;
        return Ok(exit_code(args, changes));
    };
    for plan in &plans {
        write_atomic(
            &dir.join(&plan.name),
            plan.text.as_bytes(),
            Durability::ProcessKill,
        )?;
    }
    print(&format!(
        "wrote {} plans to {}\n",
        plans.len(),
        dir.display()
    ))?;
    Ok(exit_code(args, changes))
}

/// Compares each plan with the committed file; prints a unified diff for each that differs.
fn check(dir: &Path, plans: &[Rendered]) -> Result<ExitCode, Error> {
    let mut stale = 0;
    for plan in plans {
        let path = dir.join(&plan.name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != plan.text {
            stale += 1;
            print(&render::diff(
                &path.display().to_string(),
                &committed,
                &plan.text,
            ))?;
        }
    }
    for extra in committed_plans(dir)
        .into_iter()
        .filter(|name| plans.iter().all(|p| &p.name != name))
    {
        stale += 1;
        let path = dir.join(&extra);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        print(&render::diff(&path.display().to_string(), &committed, ""))?;
    }
    if stale > 0 {
        return Err(Error::PlansOutOfDate {
            dir: dir.to_path_buf(),
            count: stale,
        });
    }
    print(&format!(
        "{} plans in {} are up to date\n",
        plans.len(),
        dir.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The markdown files in `dir`, sorted.
fn committed_plans(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| Path::new(name).extension().is_some_and(|ext| ext == "md"))
        .collect();
    names.sort();
    names
}
