"""Log wall and thread-CPU time (ns) around the whole Django stack, for the trace runs."""


from tracelog import record


class TraceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        port = int(request.META.get("REMOTE_PORT") or 0)
        record("view_start", port)
        response = self.get_response(request)
        record("view_end", port)
        return response
