<?php

return [
    'search' => ['url' => env('ZENA_SEARCH_URL')],
];
