//! Route 53 ARC routing controls (`dns = "arc"`): the cluster's regional endpoints and
//! one routing control per region. A region's routing control `On` sends traffic there;
//! every record follows them (weight 100 where the control is on, 0 where it is off).

use super::Located;

/// `[providers.arc]`: the cluster and its routing controls.
#[derive(Debug, Clone)]
pub struct ArcCluster {
    /// Region → the cluster's endpoint there (`https://…`), tried in the order written.
    pub endpoints: Vec<(Located<String>, String)>,
    /// Region → the ARN of the routing control that sends traffic to it.
    pub routing_controls: Vec<(Located<String>, String)>,
    /// The control panel's ARN: its safety rules are read before each plan (from the
    /// ARC control-config API) and the plan is judged against them.
    pub control_panel: Option<String>,
}

impl ArcCluster {
    /// The routing control of `region`.
    pub fn routing_control(&self, region: &str) -> Option<&str> {
        self.routing_controls
            .iter()
            .find(|(r, _)| r.value == region)
            .map(|(_, arn)| arn.as_str())
    }
}
