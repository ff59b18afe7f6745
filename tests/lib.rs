mod apply;
mod aws;
mod cli;
mod config_props;
mod stability;
mod support;
