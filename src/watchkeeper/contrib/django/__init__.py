"""watchkeeper inside a Django site: one app, one middleware, one ``include()``.

::

    INSTALLED_APPS += ["watchkeeper.contrib.django"]
    MIDDLEWARE.insert(0, "watchkeeper.contrib.django.middleware.WatchkeeperMiddleware")
    urlpatterns += [path("monitoring/", include("watchkeeper.contrib.django.urls"))]

then ``python manage.py watchkeeper run``. See docs/django.md.
"""
