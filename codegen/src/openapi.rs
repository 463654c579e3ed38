pub fn generate(source_file: &str, yaml: &str) -> Result<String, crate::Error> { let _ = yaml; Err(crate::Error::new(source_file, "not yet")) }
