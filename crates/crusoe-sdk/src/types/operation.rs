use serde::{Deserialize, Serialize};

/// State of an asynchronous operation. `PENDING` is waited on like `IN_PROGRESS` (the packer
/// plugin does; Crusoe's OpenAPI lists only the other three). Anything else Crusoe might send is
/// kept, and treated as an error by the waiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum OperationState {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Unknown(String),
}

impl From<String> for OperationState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "PENDING" => Self::Pending,
            "IN_PROGRESS" => Self::InProgress,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            _ => Self::Unknown(s),
        }
    }
}

impl From<OperationState> for String {
    fn from(s: OperationState) -> Self {
        match s {
            OperationState::Pending => "PENDING".into(),
            OperationState::InProgress => "IN_PROGRESS".into(),
            OperationState::Succeeded => "SUCCEEDED".into(),
            OperationState::Failed => "FAILED".into(),
            OperationState::Unknown(s) => s,
        }
    }
}

/// `Operation`: the common shape of every asynchronous operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub operation_id: String,
    pub state: OperationState,
    #[serde(default)]
    pub metadata: serde_json::Value,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    pub started_at: String,
    /// Absent while the operation runs (`omitempty` in the packer plugin).
    #[serde(default)]
    pub completed_at: Option<String>,
}

impl Operation {
    /// The id of the resource the operation acts on (`metadata.id`), known from the first answer.
    pub fn resource_id(&self) -> Option<&str> {
        self.metadata.get("id").and_then(|v| v.as_str())
    }

    /// The resource an operation produced, read as `T`.
    pub fn result_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.result.clone().unwrap_or(serde_json::Value::Null))
    }

    /// `{code, message}` of a FAILED operation's result, the message without an `rpc error: …
    /// desc = ` wrapper.
    pub fn failure(&self) -> (String, String) {
        let field = |k: &str| {
            self.result
                .as_ref()
                .and_then(|r| r.get(k))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        let message = field("message");
        (field("code"), crate::error::unwrapped(&message).to_string())
    }
}

/// `AsyncOperationResponse`: what every asynchronous call answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsyncOperationResponse {
    pub operation: Operation,
}
