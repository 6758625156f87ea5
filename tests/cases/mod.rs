mod check_http;
mod gate;
mod run;
