mod check_http;
mod docker;
mod gate;
mod run;
