using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace CrossEncoder.Server;

/// <summary>A request the server refuses, with the status code and TEI's error type (validation, empty, overloaded, backend).</summary>
internal sealed class ApiError(int status, string errorType, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string ErrorType { get; } = errorType;

    public static ApiError Validation(string message) => new(StatusCodes.Status422UnprocessableEntity, "validation", message);
}

/// <summary>The error body each API family documents.</summary>
internal enum ErrorShape
{
    /// <summary>TEI: <c>{"error": "...", "error_type": "validation"}</c>
    /// (router/src/lib.rs ErrorResponse, https://huggingface.github.io/text-embeddings-inference/).</summary>
    Tei,
    /// <summary>Cohere: <c>{"message": "..."}</c> (https://docs.cohere.com/reference/errors).</summary>
    Cohere,
    /// <summary>Jina (a FastAPI service): <c>{"detail": "..."}</c> (https://api.jina.ai/redoc).</summary>
    Jina,
}

internal static class ErrorBodies
{
    public static IResult Write(ErrorShape shape, int status, string errorType, string message) => shape switch
    {
        ErrorShape.Cohere => Results.Json(new Dictionary<string, string> { ["message"] = message }, statusCode: status),
        ErrorShape.Jina => Results.Json(new Dictionary<string, string> { ["detail"] = message }, statusCode: status),
        _ => Results.Json(new Dictionary<string, string> { ["error"] = message, ["error_type"] = errorType }, statusCode: status),
    };
}

/// <summary>Reads a JSON request body field by field, so every bad field gets a one-line 422 naming it.</summary>
internal static class Json
{
    public static async Task<JsonElement> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw ApiError.Validation("the body must be a JSON object");
            RequireText(document.RootElement, "");
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw ApiError.Validation($"invalid JSON: {ex.Message.Split('\n')[0]}");
        }
    }

    /// <summary>Every string and property name of the body must decode to text: invalid or overlong UTF-8 and lone surrogate
    /// escapes (<c>"\ud800"</c>) are a 422 naming the field, checked once here for every route, never a 500 from a later
    /// <see cref="JsonElement.GetString"/>.</summary>
    private static void RequireText(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                try { element.GetString(); }
                catch (InvalidOperationException) { throw NotText(path); }
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException) { throw NotText(path.Length == 0 ? "a property name" : $"a property name in {path}"); }
                    RequireText(property.Value, path.Length == 0 ? name : $"{path}.{name}");
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray()) RequireText(item, $"{path}[{i++}]");
                break;
        }
    }

    private static ApiError NotText(string field) =>
        ApiError.Validation($"`{field}` is not valid text: invalid or overlong UTF-8, or a lone surrogate escape");

    public static string RequiredString(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString()! : throw ApiError.Validation($"`{name}` must be a string")
            : throw ApiError.Validation($"missing field `{name}`");

    public static string? OptionalString(JsonElement body, string name) =>
        !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString() : throw ApiError.Validation($"`{name}` must be a string");

    public static bool? OptionalBool(JsonElement body, string name) =>
        !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw ApiError.Validation($"`{name}` must be true or false");

    public static int? OptionalPositiveInt(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n)) throw ApiError.Validation($"`{name}` must be an integer");
        return n > 0 ? n : throw ApiError.Validation($"`{name}` must be positive, got {n}");
    }

    public static int? OptionalNonNegativeInt(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n)) throw ApiError.Validation($"`{name}` must be an integer");
        return n >= 0 ? n : throw ApiError.Validation($"`{name}` must be 0 or more, got {n}");
    }

    /// <summary>An array of strings; with <paramref name="allowTextObjects"/> an item may also be <c>{"text": "..."}</c> (Jina, Cohere v1).</summary>
    public static List<string> StringArray(JsonElement body, string name, bool allowTextObjects = false)
    {
        if (!body.TryGetProperty(name, out var value)) throw ApiError.Validation($"missing field `{name}`");
        if (value.ValueKind != JsonValueKind.Array) throw ApiError.Validation($"`{name}` must be an array of strings");
        var items = new List<string>(value.GetArrayLength());
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) items.Add(item.GetString()!);
            else if (allowTextObjects && item.ValueKind == JsonValueKind.Object && item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                items.Add(text.GetString()!);
            else throw ApiError.Validation(allowTextObjects ? $"`{name}[{i}]` must be a string or {{\"text\": string}}" : $"`{name}[{i}]` must be a string");
            i++;
        }
        return items;
    }
}
