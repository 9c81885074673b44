//! The UI API's OpenAPI description, merged into the host's document (`serve`'s `/openapi.json`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::feedback::{FeedbackReceipt, FeedbackRequest, Verdict};
use crate::fleet::{
    Advice, AlertState, Band, Episode, FeatureHistory, FleetPage, ProbabilityPoint, TargetDetail,
    TargetSummary,
};
use crate::routes::{self, UiConfig};

/// The UI API (paths under `/api/v1/` and the page at `/ui/`).
#[derive(OpenApi)]
#[openapi(
    paths(
        routes::index,
        routes::ui_config,
        routes::fleet,
        routes::target,
        routes::feedback
    ),
    components(schemas(
        UiConfig,
        FleetPage,
        TargetSummary,
        TargetDetail,
        AlertState,
        ProbabilityPoint,
        FeatureHistory,
        Band,
        Episode,
        Advice,
        FeedbackRequest,
        FeedbackReceipt,
        Verdict,
        ErrorBody
    )),
    modifiers(&BearerToken),
    tags((name = "ui", description = "The fleet UI: ranked targets, a target's history and evidence, feedback"))
)]
pub struct UiApi;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ui_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The UI API's document, to merge into the host's.
pub fn openapi() -> utoipa::openapi::OpenApi {
    UiApi::openapi()
}
