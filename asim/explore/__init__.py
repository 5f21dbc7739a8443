"""`asim explore`: the lecture in a browser, the model re-run on every change of the controls.

`app` serves the page and its JSON endpoints, `grid` turns the page's fields into scenarios and
the model's answers into JSON, `abprint` writes the text ab would print, `measured` reads an
`asim validate` folder, `page` renders the HTML (served or offline), `export` precomputes the
offline file, `command` is what the CLI calls.
"""
