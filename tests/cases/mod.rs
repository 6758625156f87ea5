mod check_http;
mod check_postgres;
mod check_redis;
mod docker;
mod gate;
mod pre_lock;
mod run;
