<?php

namespace App\Http\Controllers;

use Illuminate\Http\Request;

class AuthController extends Controller
{
    /** Who the bearer token belongs to: 200 for the probe user's token, 401 for anything else. */
    public function me(Request $request)
    {
        $expected = (string) config('app.probe_token_sha256');
        $token = (string) $request->bearerToken();
        if ($expected === '' || $token === '' || ! hash_equals($expected, hash('sha256', $token))) {
            return response()->json(['error' => 'unauthenticated'], 401);
        }

        return response()->json(['user' => 'probe']);
    }
}
