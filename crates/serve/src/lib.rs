//! The HTTP prediction service (`kubepulse serve`).
