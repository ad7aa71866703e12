from django_doubletoken.middleware import SlidingTokenMiddleware


class SyncOnlySlidingTokenMiddleware(SlidingTokenMiddleware):
    async_capable = False
