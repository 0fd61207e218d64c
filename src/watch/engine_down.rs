//! Why the watcher does not follow the engine, as a sentence.

/// Why the watcher does not follow the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineDown {
    /// Still connecting for the first time.
    NotYet,
    /// The engine did not answer within this many seconds.
    Timeout { secs: u64 },
    /// Any other failure, as a sentence (it may name the endpoint).
    Failed(String),
}

impl std::fmt::Display for EngineDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineDown::NotYet => write!(f, "it has not reached the engine yet"),
            EngineDown::Timeout { secs } => {
                write!(f, "the Docker engine did not answer within {secs}s")
            }
            EngineDown::Failed(why) => write!(f, "{why}"),
        }
    }
}
