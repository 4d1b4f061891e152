//! The stage graph: which stage starts FROM which, which stages COPY
//! --from or RUN --mount=from= others, the stages a target needs, and an
//! order in which independent stages can run side by side. Everything is
//! decided before any step runs, so `--target` of a missing stage and
//! references to stages defined later fail first.

use crate::build::dockerfile::{mount_from, suggest, Dockerfile, InstructionKind, ParseError};
use crate::build::eval::Evaluator;
use std::collections::BTreeSet;

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference (after substitution).
    Image(String),
}

/// What `--from=` (COPY or RUN --mount) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stage(usize),
    Image(String),
}

/// One stage in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageNode {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    /// `--platform` of FROM after substitution.
    pub platform: Option<String>,
    /// Stages this one needs: its base stage and every --from stage.
    pub deps: BTreeSet<usize>,
    /// Images named by --from (pulled, not built).
    pub images: BTreeSet<String>,
}

/// The resolved graph for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageGraph {
    pub stages: Vec<StageNode>,
    pub target: usize,
    /// The stages the target needs (itself included), in Dockerfile order,
    /// which is a valid build order.
    pub needed: Vec<usize>,
    /// `needed` in waves: every stage of a wave depends only on stages of
    /// earlier waves, so the stages of one wave can be built concurrently.
    pub waves: Vec<Vec<usize>>,
}

impl StageGraph {
    /// Resolves every stage's base and --from references, then the target
    /// (`--target` name, else the last stage).
    pub fn resolve(
        df: &Dockerfile,
        ev: &Evaluator,
        target: Option<&str>,
    ) -> Result<StageGraph, ParseError> {
        let mut stages: Vec<StageNode> = Vec::new();
        // A reference to a later stage fails the build only when the stage
        // holding it is built, as in BuildKit.
        let mut late_refs: Vec<Option<ParseError>> = Vec::new();
        for stage in &df.stages {
            let mut late_ref = None;
            let from = ev.resolve_from(stage)?;
            // A FROM names an earlier stage only by its exact (lower-case)
            // name, as BuildKit looks it up.
            let base = if from.base == "scratch" {
                Base::Scratch
            } else if let Some(i) = df.stages[..stage.index]
                .iter()
                .position(|s| s.name.as_deref() == Some(from.base.as_str()))
            {
                Base::Stage(i)
            } else {
                Base::Image(from.base)
            };
            let mut node = StageNode {
                index: stage.index,
                name: stage.name.clone(),
                base: base.clone(),
                platform: from.platform,
                deps: BTreeSet::new(),
                images: BTreeSet::new(),
            };
            if let Base::Stage(i) = base {
                node.deps.insert(i);
            }
            for instr in &stage.instructions {
                let err = |message: String| ParseError {
                    file: df.file.clone(),
                    start_line: instr.location.start_line,
                    end_line: instr.location.end_line,
                    instruction: Some(instr.name().to_string()),
                    message,
                };
                let mut refs = Vec::new();
                match &instr.kind {
                    InstructionKind::Copy(c) => refs.extend(c.from.clone()),
                    InstructionKind::Run(r) => {
                        for m in &r.mounts {
                            refs.extend(mount_from(m).map_err(err)?);
                        }
                    }
                    _ => {}
                }
                for r in refs {
                    match resolve_reference(df, &r).map_err(err)? {
                        Source::Stage(i) if i >= stage.index => {
                            late_ref.get_or_insert(err(format!(
                                "cannot copy from stage {:?}, it needs to be defined before current stage {:?}",
                                r,
                                stage.display_name()
                            )));
                        }
                        Source::Stage(i) => {
                            node.deps.insert(i);
                        }
                        Source::Image(img) => {
                            node.images.insert(img);
                        }
                    }
                }
            }
            stages.push(node);
            late_refs.push(late_ref);
        }
        let target = match target {
            None => stages.len() - 1,
            Some(name) => df.stage_by_name(name).map(|s| s.index).ok_or_else(|| {
                let names: Vec<&str> = df.stages.iter().filter_map(|s| s.name.as_deref()).collect();
                let mut message = format!("target stage {name:?} could not be found");
                if let Some(s) = suggest(name, &names, true) {
                    message.push_str(&format!(" (did you mean {s}?)"));
                }
                ParseError {
                    file: df.file.clone(),
                    start_line: 1,
                    end_line: 1,
                    instruction: None,
                    message,
                }
            })?,
        };
        let mut needed = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if needed.insert(i) {
                todo.extend(stages[i].deps.iter().copied());
            }
        }
        let needed: Vec<usize> = needed.into_iter().collect();
        if let Some(e) = needed.iter().find_map(|i| late_refs[*i].take()) {
            return Err(e);
        }
        // Deps always point backwards, so one pass in index order gives
        // every stage its wave.
        let mut wave = vec![0usize; stages.len()];
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in &needed {
            wave[i] = stages[i]
                .deps
                .iter()
                .map(|d| wave[*d] + 1)
                .max()
                .unwrap_or(0);
            if waves.len() <= wave[i] {
                waves.resize(wave[i] + 1, Vec::new());
            }
            waves[wave[i]].push(i);
        }
        Ok(StageGraph {
            stages,
            target,
            needed,
            waves,
        })
    }
}

/// What `--from=` names: a stage by name (case-insensitive) or by index,
/// otherwise an image.
pub fn resolve_reference(df: &Dockerfile, reference: &str) -> Result<Source, String> {
    if let Ok(index) = reference.parse::<i64>() {
        return usize::try_from(index)
            .ok()
            .filter(|i| *i < df.stages.len())
            .map(Source::Stage)
            .ok_or_else(|| format!("invalid stage index {index}"));
    }
    Ok(match df.stage_by_name(reference) {
        Some(s) => Source::Stage(s.index),
        None => Source::Image(reference.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;
    use crate::build::eval::BuildOptions;

    fn graph(text: &str, target: Option<&str>) -> Result<StageGraph, String> {
        let df = parse("Dockerfile", text).unwrap();
        let o = BuildOptions::native();
        let ev = Evaluator::new(&df, &o).unwrap();
        StageGraph::resolve(&df, &ev, target).map_err(|e| e.to_string())
    }

    const MULTI: &str = "\
FROM busybox AS deps
RUN fetch
FROM busybox AS tools
RUN build-tools
FROM deps AS build
COPY --from=tools /t /t
RUN --mount=type=bind,from=1,target=/x make
FROM scratch AS unused
FROM alpine AS final
COPY --from=build /out /app
COPY --from=nginx:latest /etc/nginx /etc/nginx
";

    #[test]
    fn only_needed_stages_in_waves() {
        let g = graph(MULTI, None).unwrap();
        assert_eq!(g.target, 4);
        assert_eq!(g.needed, [0, 1, 2, 4]);
        assert_eq!(g.waves, vec![vec![0, 1], vec![2], vec![4]]);
        assert_eq!(g.stages[2].base, Base::Stage(0));
        assert_eq!(g.stages[2].deps, BTreeSet::from([0, 1]));
        assert_eq!(g.stages[4].base, Base::Image("alpine".into()));
        assert_eq!(
            g.stages[4].images,
            BTreeSet::from(["nginx:latest".to_string()])
        );
        assert_eq!(g.stages[3].base, Base::Scratch);
        let g = graph(MULTI, Some("TOOLS")).unwrap();
        assert_eq!((g.target, g.needed.clone()), (1, vec![1]));
    }

    #[test]
    fn errors_before_anything_runs() {
        assert_eq!(
            graph(MULTI, Some("biuld")).unwrap_err(),
            "Dockerfile:1: target stage \"biuld\" could not be found (did you mean build?)"
        );
        assert_eq!(
            graph("FROM a AS x\nCOPY --from=y /a /b\nFROM b AS y\nFROM x\n", None).unwrap_err(),
            "Dockerfile:2: COPY: cannot copy from stage \"y\", it needs to be defined before current stage \"x\""
        );
        assert_eq!(
            graph("FROM a\nCOPY --from=0 /a /b\n", None).unwrap_err(),
            "Dockerfile:2: COPY: cannot copy from stage \"0\", it needs to be defined before current stage \"stage-0\""
        );
        // Only stages that are built report it.
        assert!(graph("FROM a AS x\nCOPY --from=y /a /b\nFROM b AS y\n", Some("y")).is_ok());
        assert_eq!(
            graph("FROM a\nCOPY --from=7 /a /b\n", None).unwrap_err(),
            "Dockerfile:2: COPY: invalid stage index 7"
        );
    }

    #[test]
    fn from_matches_stage_names_exactly_and_args_substitute() {
        let g = graph(
            "ARG B=base\nFROM busybox AS base\nFROM ${B}\nFROM BASE\n",
            None,
        )
        .unwrap();
        assert_eq!(g.stages[1].base, Base::Stage(0));
        assert_eq!(g.stages[2].base, Base::Image("BASE".into()));
        assert_eq!(g.needed, [2]);
    }
}
