mod check_http;
mod run;
