# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The devcloud's stand-in for Keystone in nova-api's paste pipeline.

nova 34 no longer ships ``noauth2``; this filter takes its place in the
devcloud's api-paste.ini: the token ``USER:PROJECT`` becomes the identity
headers keystonemiddleware would set (``admin`` gets the admin, member
and reader roles). Anyone who reaches the port is whoever they claim to
be: a test cloud on 127.0.0.1, never a deployment.
"""

import webob.dec
import webob.exc


def filter_factory(global_conf, **local_conf):
    return NoAuth


class NoAuth:
    """``X-Auth-Token: user:project`` as a trusted identity."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        token = req.headers.get('X-Auth-Token')
        if not token:
            return webob.exc.HTTPUnauthorized()
        user_id, _sep, project_id = token.partition(':')
        roles = (['admin', 'member', 'reader'] if user_id == 'admin'
                 else ['member', 'reader'])
        req.headers.update({
            'X-User-Id': user_id, 'X-Project-Id': project_id or user_id,
            'X-Roles': ','.join(roles), 'X-Identity-Status': 'Confirmed'})
        return req.get_response(self.application)
