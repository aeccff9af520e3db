//! PLACEHOLDER until the trail-events branch lands (interface only).
#![allow(missing_docs, dead_code)]
use crate::time::UtcTime;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrailEventKind {
    StopLogging,
    StartLogging,
    DeleteTrail,
    CreateTrail,
    UpdateTrail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    pub kind: TrailEventKind,
    pub time: UtcTime,
    pub principal: Option<String>,
    pub trail: String,
    pub validation: Option<bool>,
    pub multi_region: Option<bool>,
    pub destination_changed: bool,
    pub region: Option<String>,
    pub log: String,
}

impl TrailEvent {
    pub fn names_trail(&self, name: &str) -> bool {
        self.trail == name
            || self
                .trail
                .rsplit_once(":trail/")
                .is_some_and(|(_, n)| n == name)
    }
}
