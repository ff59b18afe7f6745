mod support;
mod cli;
mod config_props;
