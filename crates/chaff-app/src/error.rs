//! The error every command returns to the UI.

use chaff_lifecycle::OpError;
use serde::Serialize;

/// A refused command as the UI shows it: `code` is what kind of failure (the UI acts on it),
/// `message` says what was wrong, `field` names the input at fault so the form can mark it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl UiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> UiError {
        UiError { code, message: message.into(), field: None }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> UiError {
        UiError { code: "invalid_input", message: message.into(), field: Some(field.to_owned()) }
    }

    pub fn internal(message: impl Into<String>) -> UiError {
        UiError::new("internal", message)
    }
}

impl From<OpError> for UiError {
    fn from(error: OpError) -> UiError {
        UiError {
            code: error.code().as_str(),
            field: error.field().map(str::to_owned),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_errors_keep_their_code_and_field() {
        let error = UiError::from(OpError::InvalidInput {
            field: Some("subnet".into()),
            message: "Invalid subnet '10.0.0.0/33'".into(),
        });
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid_input", "message": "Invalid subnet '10.0.0.0/33'", "field": "subnet"})
        );
        let missing = serde_json::to_value(UiError::from(OpError::NotFound("no decky 'x'".into()))).unwrap();
        assert_eq!(missing, serde_json::json!({"code": "not_found", "message": "no decky 'x'"}));
    }
}
