pub fn generate(source_file: &str, sdl: &str) -> Result<String, crate::Error> { let _ = sdl; Err(crate::Error::new(source_file, "not yet")) }
