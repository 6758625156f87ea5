mod gate;
mod run;
