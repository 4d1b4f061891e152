//! `berth build`'s front half: everything that can be decided before a
//! single step runs. The Dockerfile parser and BuildKit's substitution
//! rules, the stage graph, `.dockerignore`, the build context and the
//! content hashes that key the cache. The builder that runs steps through
//! the runtime sits on top of these.
//!
//! How a builder uses it:
//!
//! ```text
//! let ctx = context::BuildContext::open(source, dockerfile_source, store_tmp)?;
//! let df = dockerfile::parse(ctx.dockerfile_name(), &String::from_utf8_lossy(ctx.dockerfile()))?;
//! if let Some(f) = df.directives.foreign_frontend() { note "ignoring syntax {f}" }
//! let ev = eval::Evaluator::new(&df, &opts)?;              // global ARGs
//! let graph = graph::StageGraph::resolve(&df, &ev, opts.target.as_deref())?;
//! for wave in &graph.waves { for &i in wave {               // may run concurrently
//!     let stage = &df.stages[i];
//!     let mut scope = match graph.stages[i].base {
//!         Base::Stage(p) => final scope of stage p,
//!         _ => eval::Scope::from_image_env(&base_config.env),
//!     };
//!     for e in ev.eval_stage(stage, &mut scope)? {          // or ev.eval(instr, &mut scope)
//!         match e.value { Value::Copy { values, from: None, .. } => {
//!             let plan = ctx.plan(&CopyRequest { sources: &values.sources, dest: &values.dest, .. })?;
//!             ... }, .. }
//!     }
//! }}
//! ctx.prefetch_hashes(all_plans)?;                          // once, in parallel
//! let key = ctx.plan_key(&plan, Ownership { uid, gid, chmod })?;
//! if let Some(w) = ev.unconsumed_warning() { eprintln!("{w}") }
//! ```

pub mod builder;
pub mod context;
pub mod dockerfile;
pub mod eval;
pub mod graph;
pub mod ignore;
pub mod progress;
pub mod prune;
pub mod shell;

#[cfg(test)]
mod proptests;
