//! The driver's commit step: the plan computed from what it reads, shown, re-checked
//! against its basis, written and journaled (the rules are `commits`').

use super::Driver;
use super::Operator;
use crate::cutover::commits::{self, Back, GroupCommit};
use crate::cutover::engine::{self, Action, Event, OffsetMove, Side, Step};
use crate::error::{Error, Result};

impl Driver<'_> {
    /// Before the producers may write to the target: where its records stop being copies
    /// (journaled), and, the producers being frozen, all they wrote on the source (a figure
    /// missing there is no reason to stop the flip: no stray-producer alarm then). Some(reason)
    /// when the target's ends cannot be read: the flip must not happen.
    pub(super) fn note_ends_before_flip(&mut self) -> Result<Option<String>> {
        match self.clusters.target_ends(&self.state.topics, true) {
            Ok(ends) => self.record(Event::TargetWritesBegan { ends })?,
            Err(e) => {
                return Ok(Some(format!(
                    "the target's end offsets could not be read before the flip: {e}"
                )))
            }
        }
        match self.clusters.source_ends(&self.state.topics) {
            Ok(ends) => self.record(Event::SourceWritesStopped { ends })?,
            Err(e) => tracing::warn!("wave {}: the source's ends at the flip: {e}", self.wave.name),
        }
        Ok(None)
    }

    /// Translates every wave group's committed source offsets exactly, for the target.
    pub fn plan_commits(&mut self) -> Result<Vec<GroupCommit>> {
        let mut plan = Vec::new();
        for group in self.state.groups.clone() {
            let basis = self.basis(Side::Target, &group)?;
            let target_now = self.clusters.committed(Side::Target, &group)?;
            let rows = self.clusters.translate(&group, &basis, &self.stop)?;
            plan.push(commits::commit_plan(&group, basis, &target_now, rows)?);
        }
        Ok(plan)
    }

    /// The commits back on the source: from the journaled forward commit (source S0 was target
    /// T0), a group that read on to T is walked back record by record to the source offset
    /// that holds what the target holds at T, stepping over the records written on the target
    /// only after flip_producers. With consumers-first the producers are back on the source
    /// before the groups leave the target, so a group may have read some of their new records
    /// there: the walk finds where it stopped.
    pub fn plan_commit_back(&mut self) -> Result<Vec<GroupCommit>> {
        let mut plan = Vec::new();
        for (group, forward) in commits::forward_commits(&self.state) {
            let target_now = self.basis(Side::Source, &group)?;
            let source_now = self.clusters.committed(Side::Source, &group)?;
            let mut moves = Vec::new();
            for m in &forward {
                let replication = &self.config.replication;
                let source_topic = replication
                    .source_topic(&m.topic)
                    .ok_or_else(|| Error::permanent(format!("{} is not a replicated topic", m.topic)))?;
                let target_at = target_now.get(&(m.topic.clone(), m.partition)).copied();
                let new = match commits::back_from(m, target_at) {
                    Back::Unmoved(s) => s,
                    Back::Walk { at, .. } => self
                        .clusters
                        .walk_back(&source_topic, m, at, &self.stop)
                        .map_err(|e| e.context(&group))?,
                };
                let old = source_now.get(&(source_topic.clone(), m.partition)).copied();
                let from = target_at.unwrap_or(m.new);
                moves.push(OffsetMove {
                    topic: source_topic,
                    partition: m.partition,
                    old,
                    new,
                    from,
                });
            }
            let checkpoint_costs = vec![String::new(); moves.len()];
            plan.push(GroupCommit {
                group,
                moves,
                checkpoint_costs,
                basis: target_now,
            });
        }
        Ok(plan)
    }

    /// What a commit to `side` is computed from, read now: for the forward commit the group's
    /// committed source offsets on the wave's topics, for the commit back its target ones.
    fn basis(&mut self, side: Side, group: &str) -> Result<commits::Offsets> {
        let (read_on, topics): (Side, Vec<String>) = match side {
            Side::Target => (Side::Source, self.state.topics.clone()),
            Side::Source => {
                let replication = &self.config.replication;
                (
                    Side::Target,
                    self.state.topics.iter().map(|t| replication.target_topic(t)).collect(),
                )
            }
        };
        let all = self.clusters.committed(read_on, group)?;
        Ok(all.into_iter().filter(|((t, _), _)| topics.contains(t)).collect())
    }

    /// The plan of now; a transient error (a broker away, MM2's topics not read yet) is
    /// retried with backoff, each try said.
    pub(super) fn plan_for(&mut self, op: &mut dyn Operator, step: Step, side: Side) -> Result<Vec<GroupCommit>> {
        self.retrying(op, step, "the commit plan", |d| match side {
            Side::Target => d.plan_commits(),
            Side::Source => d.plan_commit_back(),
        })
    }

    /// The plan to write: the one the engineer confirmed, when what it was computed from has
    /// not moved since; else the engineer is asked again, with the difference shown (Ok(Err):
    /// the reason not to write). Without a question (confirm = "wave"), the plan of now.
    fn settled_plan(&mut self, op: &mut dyn Operator, step: Step, side: Side) -> Result<Result<Vec<GroupCommit>>> {
        let Some(confirmed) = self.confirmed.take() else {
            return Ok(self.plan_for(op, step, side));
        };
        let mut moved = Vec::new();
        for c in &confirmed {
            match self.retrying(op, step, "the committed offsets", |d| d.basis(side, &c.group)) {
                Ok(now) => moved.extend(commits::basis_moved(&c.group, &c.basis, &now)),
                Err(e) if e.is_cancelled() => return Err(e),
                Err(e) => return Ok(Err(e)),
            }
        }
        if moved.is_empty() {
            return Ok(Ok(confirmed));
        }
        let plan = match self.plan_for(op, step, side) {
            Ok(p) => p,
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let question = format!(
            "{}: the committed offsets moved since you confirmed: commit these instead?",
            step.name()
        );
        let mut details: Vec<String> = moved.iter().map(|m| format!("moved: {m}")).collect();
        details.extend(commits::plan_lines(&plan, side));
        if !op.yes_no(&question, &details) {
            let reason = format!(
                "not confirmed again after the committed offsets moved ({}); nothing written",
                moved.join("; ")
            );
            return Ok(Err(Error::permanent(reason)));
        }
        self.record(Event::Confirmed {
            what: question,
            details,
        })?;
        Ok(Ok(plan))
    }

    /// Writes a commit plan to `side`, one group at a time: each group's offsets written,
    /// read back and journaled as written. A group already journaled in this run (before a
    /// crash) is left alone, and partitions already at their offset are not written again. A
    /// transient broker error is retried with backoff, each try said.
    pub(super) fn commit(&mut self, op: &mut dyn Operator, step: Step, action: Action, side: Side) -> Result<()> {
        let plan = match self.settled_plan(op, step, side)? {
            Ok(p) => p,
            Err(reason) => return self.fail(op, step, action, reason.message),
        };
        let where_ = engine::side_name(side);
        let mut written = 0;
        for c in plan {
            let lines = commits::group_lines(&c, side).join(", ");
            if self.dry_run {
                self.say(
                    op,
                    Some(step),
                    &format!("would commit {} on {where_}: {lines}", c.group),
                );
                continue;
            }
            if commits::already_committed(&self.state, side, &c.group) {
                continue;
            }
            let changes = commits::changes(&c);
            // As journaled: what was there before, even where an earlier try's write landed.
            let offsets = commits::as_written(&c, commits::planned(&self.state, side, &c.group));
            if !changes.is_empty() {
                let (group, offsets) = (c.group.clone(), offsets.clone());
                self.record(Event::CommitPlanned { side, group, offsets })?;
            }
            if !changes.is_empty() {
                let what = format!("commit for {} on {where_}", c.group);
                let write = |d: &mut Self| d.clusters.commit(side, &c.group, &changes).map_err(Error::from);
                if let Err(e) = self.retrying(op, step, &what, write) {
                    return match e.is_cancelled() {
                        true => Err(e),
                        false => self.fail(op, step, action, format!("{what}: {e}")),
                    };
                }
            }
            written += 1;
            self.say(op, Some(step), &format!("committed {} on {where_}: {lines}", c.group));
            self.record(Event::Committed {
                side,
                group: c.group.clone(),
                offsets,
            })?;
        }
        let detail = if self.dry_run {
            "dry run: nothing committed".into()
        } else {
            format!("{written} group(s) committed on {where_}, read back and equal")
        };
        self.record(Event::ActionDone {
            step,
            action,
            detail,
            output: vec![],
        })
    }
}
