mod apply;
mod aws;
mod cli;
mod config_props;
mod drill;
mod stability;
mod support;
mod watch;
