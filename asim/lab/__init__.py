"""The real world: server processes asim owns (`procs`), the real ab (`abrun`), and measuring
the servers' CPU for calibration (`measure`). Used by validate, calibrate, serve and the lecture;
nothing here imports the model's server shapes beyond their names."""
