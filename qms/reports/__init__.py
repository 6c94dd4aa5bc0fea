"""Reports: printable documents (PDF) rendered from the same Jinja templates as the pages."""
