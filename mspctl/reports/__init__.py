"""Report formats rendered from run results: JUnit XML for CI, Markdown for people."""
