//! The JSON shapes of the Exoscale API v2 that the autoscaler reads and
//! writes (kebab-case, as in the official OpenAPI spec). Unknown fields are
//! ignored so that additions on Exoscale's side never break parsing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InstancePool {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Target size: counts members that are still booting.
    pub size: u64,
    /// `scaling-up`, `scaling-down`, `running`, `creating`, ...
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub instances: Vec<InstanceRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRef {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Instance {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `starting`, `running`, `stopping`, `destroying`, ...
    #[serde(default)]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manager {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListInstances {
    #[serde(default)]
    pub instances: Vec<Instance>,
}

/// An asynchronous operation: `pending`, then `success`, `failure` or `timeout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
}

impl Operation {
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Body of `PUT /instance-pool/{id}:scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleRequest {
    pub size: u64,
}

/// Body of `PUT /instance-pool/{id}:evict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvictRequest {
    pub instances: Vec<String>,
}
