//! The driver's side of a hand-over (`handover`): saying who it took the wave over from, and
//! holding a wave nobody is at the wheel of.

use super::{Driver, Operator};
use crate::cutover::engine::Event;
use crate::error::Result;

impl Driver<'_> {
    /// Once, when this driver took the wave over from a detached driver: said and journaled.
    pub(super) fn note_took_over(&mut self, op: &mut dyn Operator) -> Result<()> {
        let Some(from) = self.took_over.take() else {
            return Ok(());
        };
        let text = format!("{} took the wave over from the {from}", self.journal.by());
        self.say(op, None, &text);
        self.record(Event::HandedOver { text })
    }

    /// The detached driver's first entry: who holds the wave now, and how to take it over.
    pub fn note_detached(&mut self, op: &mut dyn Operator) -> Result<()> {
        let text = format!(
            "the cockpit driving it lost its terminal: a {} (pid {}) holds the wave; it runs no step \
             that needs a confirmation, and keeps the pause budget and the rollback criteria",
            crate::cutover::handover::DETACHED,
            std::process::id()
        );
        self.say(op, None, &text);
        self.record(Event::HandedOver { text })
    }

    /// Holds the wave where it stands (at `why`, a question nobody may answer) and watches its
    /// pause budget until someone takes it over (`stop`: false) or the budget rolls it back by
    /// itself (true: the rollback's steps come next).
    pub fn hold(&mut self, op: &mut dyn Operator, why: &str) -> Result<bool> {
        let name = self.wave.name.clone();
        let holding = format!(
            "held at: {why} (a detached driver answers no question): take the wave over with `cutover` \
             (s on wave {name}) or `cutover run --wave {name}`"
        );
        self.say(op, None, &holding);
        loop {
            if self.over_budget(op)? {
                return Ok(true);
            }
            if self.stop.sleep(self.poll_every) {
                self.say(op, None, "stopped holding the wave: it is being taken over");
                return Ok(false);
            }
        }
    }
}
